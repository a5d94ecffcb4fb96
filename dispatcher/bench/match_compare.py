"""`bench match --compare REV`: this checkout's core beside another revision's, in one run.

Each version runs in its own child process (two `dispatcher` packages cannot share one
interpreter), both loading *this* checkout's measuring code (`bench/match.py`) against
their own core, so only the core differs. The children build the same synthetic
community, prove they decide identically (a digest of every decision's events and
records), then time batches turn by turn, alternating which goes first, so the shared
machine's noise falls on both alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dispatcher.bench.machine_speed import python_ms
from dispatcher.bench.match import summarise
from dispatcher.bench.no_editable import DROP_EDITABLE_FINDERS

_HERE = Path(__file__).resolve()
_ROOT = _HERE.parents[2]
_BATCH = 25

# Load `bench/match.py` of this checkout by path, with ROOT's packages first on the path,
# and only ROOT's: a module its tree lacks is an ImportError (`no_editable`).
_CHILD = (
    DROP_EDITABLE_FINDERS
    + """
import importlib.util, sys
sys.path.insert(0, sys.argv[1])
spec = importlib.util.spec_from_file_location("bench_match_harness", sys.argv[2])
harness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)
harness.serve()
"""
)


def resolve(rev: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(_ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"bench match --compare: unknown revision {rev!r}")
    return out.stdout.strip()


def extract(commit: str, into: Path, packages: tuple[str, ...] = ("dispatcher", "schemas")) -> Path:
    """The revision's Python packages (not a worktree: nothing to clean up in git)."""
    archive = subprocess.run(
        ["git", "-C", str(_ROOT), "archive", commit, *packages],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


class Child:
    """One tree's packages in a child process running a harness file's `serve()` (by
    default `bench/match.py`; `bench/classify.py` for `bench classify --compare`)."""

    def __init__(self, label: str, root: Path, harness: Path = _HERE.parent / "match.py") -> None:
        self.label = label
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(root), str(harness)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
        )

    def send(self, **msg: Any) -> None:
        stdin: IO[str] | None = self.proc.stdin
        assert stdin is not None
        stdin.write(json.dumps(msg) + "\n")
        stdin.flush()

    def receive(self) -> Any:
        stdout: IO[str] | None = self.proc.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"bench child {self.label} exited ({self.proc.wait()})")
        return json.loads(line)

    def ask(self, **msg: Any) -> Any:
        self.send(**msg)
        return self.receive()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def compare_size(
    base_root: Path, rev: str, n: int, decisions: int, naive_runs: int, seed: int
) -> dict[str, Any]:
    print(f"building {n:,} helpers in both versions…", file=sys.stderr, flush=True)
    speed = python_ms()  # the interpreter's speed now, to read this run against another day's
    children = [Child("baseline", base_root), Child("current", _ROOT)]
    try:
        for c in children:  # both build at once: build time is not the measurement
            c.send(op="build", n=n, decisions=decisions, seed=seed)
        built = [c.receive() for c in children]
        digests = [c.ask(op="digest") for c in children]
        timed: list[list[list[float]]] = [[], []]
        searched: list[list[float]] = [[], []]
        scans: list[list[list[float]]] = [[], []]
        for k, start in enumerate(range(0, decisions, _BATCH)):
            order = (0, 1) if k % 2 == 0 else (1, 0)
            for side in order:
                timed[side] += children[side].ask(op="decide", start=start, count=_BATCH)
            for side in order:
                searched[side] += children[side].ask(op="search", start=start, count=_BATCH)
        print(f"  scanning all {n:,} helpers {naive_runs}× each…", file=sys.stderr, flush=True)
        for i in range(naive_runs):
            for side in (0, 1) if i % 2 == 0 else (1, 0):
                scans[side].append(children[side].ask(op="scan", i=i))
    finally:
        for c in children:
            c.close()
    rows = [
        summarise(
            n,
            built[side]["build_s"],
            [(w, c) for w, c in timed[side]],
            searched[side],
            [(s, int(a), int(m)) for s, a, m in scans[side]],
            built[side]["offers"],
        )
        for side in (0, 1)
    ]
    base, cur = rows
    return {
        "helpers": n,
        "baseline_rev": rev[:12],
        "same_decisions": digests[0] == digests[1],
        "p50_speedup": round(base["p50_us"] / cur["p50_us"], 2),
        "p99_speedup": round(base["p99_us"] / cur["p99_us"], 2),
        "machine_python_ms": speed,
        "baseline": base,
        "current": cur,
    }


def compare(
    rev: str, sizes: list[int], decisions: int, naive_runs: int, seed: int
) -> Iterator[dict[str, Any]]:
    commit = resolve(rev)
    with tempfile.TemporaryDirectory(prefix="bench-match-") as tmp:
        base_root = extract(commit, Path(tmp))
        for n in sizes:
            yield compare_size(base_root, commit, n, decisions, naive_runs, seed)
