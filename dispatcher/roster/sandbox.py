"""Parse an uploaded ledger in a child process with memory, CPU and wall-clock limits.

The reader (`dispatcher.roster.xlsx`) refuses the hostile files we know of; this is the line
behind it for the ones we do not: whatever a file makes the parser do, it happens in a
short-lived process with an address-space limit (RLIMIT_AS), a CPU limit (RLIMIT_CPU) and a
wall-clock timeout, so the API's event loop and memory are never the ones paying. A refusal
comes back as `RosterFileError` with the limit that was hit.

The child is `python -m dispatcher.roster.sandbox SPEC`: the file on stdin, a JSON result
(the parsed ledger or an error) on stdout, progress lines on stderr when asked. Both
ledgers go through it: helpers (`parse_isolated*`) and households (`parse_households_*`).
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from pydantic import BaseModel, ValidationError

from dispatcher.roster.households import ParsedHouseholds, parse_households
from dispatcher.roster.ledger import ParsedRoster, RosterFileError, RosterPlace, parse_roster
from dispatcher.roster.xlsx import XlsxLimits


@dataclass(frozen=True)
class SandboxLimits:
    memory_mib: int = 768  # address space of the child (Python itself takes ~150 MiB)
    cpu_seconds: int = 30
    wall_seconds: float = 60.0
    xlsx: XlsxLimits = field(default_factory=XlsxLimits)


class _Result(BaseModel):
    """What the child prints: the parsed roster or why not (pydantic's JSON both ways: a
    20,000-row ledger crosses the pipe in well under a second)."""

    parsed: ParsedRoster | None = None
    households: ParsedHouseholds | None = None
    error: str | None = None


Kind = Literal["helpers", "households"]


def _command(
    where: RosterPlace, filename: str | None, limits: SandboxLimits, progress: bool, kind: Kind
) -> list[str]:
    spec = {
        "kind": kind,
        "where": asdict(where),
        "filename": filename,
        "memory_mib": limits.memory_mib,
        "cpu_seconds": limits.cpu_seconds,
        "progress": progress,
        "xlsx": asdict(limits.xlsx),
    }
    return [sys.executable, "-m", "dispatcher.roster.sandbox", json.dumps(spec)]


def _outcome(returncode: int, stdout: bytes, limits: SandboxLimits) -> _Result:
    if returncode == 0:
        try:
            result = _Result.model_validate_json(stdout)
        except ValidationError:
            result = _Result(error="the ledger reader gave no answer")
        if result.parsed is None and result.households is None:
            raise RosterFileError(result.error or "the ledger reader gave no answer")
        return result
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise RosterFileError(f"reading the file took more than {limits.cpu_seconds} s of CPU")
    raise RosterFileError(
        f"the ledger reader stopped (exit {returncode}); the file may need more than "
        f"{limits.memory_mib} MiB to read"
    )


def _timed_out(limits: SandboxLimits) -> RosterFileError:
    return RosterFileError(f"reading the file took longer than {limits.wall_seconds:g} s")


def _run(
    data: bytes,
    where: RosterPlace,
    kind: Kind,
    filename: str | None,
    limits: SandboxLimits | None,
    progress: bool,
) -> _Result:
    """Blocking: for the CLIs. Progress lines go straight to our stderr when asked."""
    limits = limits or SandboxLimits()
    try:
        done = subprocess.run(
            _command(where, filename, limits, progress, kind),
            input=data,
            stdout=subprocess.PIPE,
            stderr=None if progress else subprocess.DEVNULL,
            timeout=limits.wall_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed the child
        raise _timed_out(limits) from exc
    return _outcome(done.returncode, done.stdout, limits)


def parse_isolated(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    limits: SandboxLimits | None = None,
    progress: bool = False,
) -> ParsedRoster:
    """A helper ledger, blocking (the CLI)."""
    parsed = _run(data, where, "helpers", filename, limits, progress).parsed
    assert parsed is not None  # the child answers what it was asked
    return parsed


def parse_households_isolated(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    limits: SandboxLimits | None = None,
    progress: bool = False,
) -> ParsedHouseholds:
    """A household ledger, blocking (the CLI)."""
    parsed = _run(data, where, "households", filename, limits, progress).households
    assert parsed is not None
    return parsed


async def parse_isolated_async(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    limits: SandboxLimits | None = None,
) -> ParsedRoster:
    """For the API: the event loop only waits on a pipe while the child works."""
    parsed = (await _run_async(data, where, "helpers", filename, limits)).parsed
    assert parsed is not None
    return parsed


async def parse_households_async(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    limits: SandboxLimits | None = None,
) -> ParsedHouseholds:
    parsed = (await _run_async(data, where, "households", filename, limits)).households
    assert parsed is not None
    return parsed


async def _run_async(
    data: bytes, where: RosterPlace, kind: Kind, filename: str | None, limits: SandboxLimits | None
) -> _Result:
    limits = limits or SandboxLimits()
    async with _ONE_AT_A_TIME:
        return await _run_child(data, where, filename, limits, kind)


# One ledger parse at a time per API process: a child may take up to `memory_mib`, and the
# pod's memory limit counts its children too.
_ONE_AT_A_TIME = asyncio.Semaphore(1)


async def _run_child(
    data: bytes, where: RosterPlace, filename: str | None, limits: SandboxLimits, kind: Kind
) -> _Result:
    proc = await asyncio.create_subprocess_exec(
        *_command(where, filename, limits, False, kind),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        stdout, _ = await asyncio.wait_for(proc.communicate(data), limits.wall_seconds)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise _timed_out(limits) from exc
    except BaseException:  # cancelled (client gone): never leave the child running
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    return _outcome(proc.returncode or 0, stdout, limits)


def _child(spec: dict[str, object]) -> _Result:
    memory = int(str(spec["memory_mib"])) * 1024 * 1024
    cpu = int(str(spec["cpu_seconds"]))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL
    data = sys.stdin.buffer.read()
    where = RosterPlace(**spec["where"])  # type: ignore[arg-type]
    filename = spec.get("filename")

    def say(n: int) -> None:
        print(f"rows checked: {n}", file=sys.stderr, flush=True)

    parse = parse_households if spec.get("kind") == "households" else parse_roster
    return _answer(
        lambda: parse(
            data,
            where,
            filename=filename if isinstance(filename, str) else None,
            progress=say if spec.get("progress") else None,
            xlsx_limits=XlsxLimits(**spec["xlsx"]),  # type: ignore[arg-type]
        ),
        int(str(spec["memory_mib"])),
    )


def _answer(parse: Callable[[], ParsedRoster | ParsedHouseholds], memory_mib: int) -> _Result:
    """The child's answer: the parsed ledger, or why not. A failure the reader did not
    foresee is named by its type (its text may quote the file), never taken for a lack of
    memory: the child that died of one told staff the file needed more than the limit."""
    try:
        parsed = parse()
    except RosterFileError as exc:
        return _Result(error=str(exc))
    except MemoryError:
        return _Result(error=f"reading the file needs more than {memory_mib} MiB")
    except Exception as exc:  # any other failure is the file's answer too
        return _Result(error=f"the ledger reader could not read this file ({type(exc).__name__})")
    if isinstance(parsed, ParsedHouseholds):
        return _Result(households=parsed)
    return _Result(parsed=parsed)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(
            "usage: python -m dispatcher.roster.sandbox SPEC_JSON < FILE\n"
            "Internal: parses one ledger under memory/CPU limits and prints JSON.",
            file=sys.stderr,
        )
        return 0 if args and args[0] in ("-h", "--help") else 2
    result = _child(json.loads(args[0]))
    sys.stdout.write(result.model_dump_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
