"""What sealing contacts costs per help request, beside what the request costs anyway.

    python -m dispatcher.bench.sealing [--rounds 5] [--json] [--compare REV]

Prints, in µs of thread CPU time per call (the best of `--rounds` repeats, so a shared
machine's noise shows least): the API's `seal_spec` beside building and encoding the
command it goes into; the worker's decode of a sealed command beside the same command
unsealed (the baseline); opening the box (the assignment push, the answer page); sealing
an old plain command on decode (only records from before the change). For helpers:
`seal_profile` (phone, name, platform user id, home) beside encoding the UpsertHelper it
goes into, and opening the name or the platform id (a welcome, an offer's links).

`--compare REV`: git revision REV's packages beside this checkout's, each round in a
child process per side (alternating which goes first), both timed alike; a case the
revision does not have shows "-".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.sealing import (
    KeyRing,
    helper_detail,
    helper_name,
    open_sealed,
    seal_command,
    seal_profile,
    seal_spec,
)
from schemas.commands import Command, SubmitRequest, UpsertHelper, new_command
from schemas.helpers import HelperProfile
from schemas.places import PlacePath
from schemas.requests import RequesterContact, RequestSpec
from schemas.vocab import Category, Skill, Urgency


def _place(building: str, unit: str, floor: int) -> PlacePath:
    """A flat: the building routes, the unit, floor and household are personal."""
    household = f"hh-c1-b{building}-{unit}-{floor}01"
    return PlacePath(
        community_id="bench",
        compound_id="c1",
        building_id=f"b{building}",
        unit=unit,
        floor=floor,
        household_id=household,
    )


def _spec() -> RequestSpec:
    return RequestSpec(
        request_id="bench-request-0001",
        community_id="bench",
        place=_place("3", "2", 5),
        category=Category.HOSPITAL_TRANSPORT,
        urgency=Urgency.CRITICAL,
        skills=(Skill.DRIVING,),
        text="我在3号楼2单元501，老伴胸口疼，谁能开车送医院？",
        contact=RequesterContact(name="林女士", phone="13800001234", address="3号楼2单元501室"),
    )


def _profile() -> HelperProfile:
    return HelperProfile(
        helper_id="bench-helper-0001",
        name="周建国",
        phone="13800000123",
        platform_user_id="wx-zhou-jianguo",
        place=_place("7", "1", 3),
        skills=(Skill.DRIVING,),
        paired_household_ids=("hh-c1-b3-2-501",),
        channels=("webhook:default",),
    )


def _helper_cases(keys: KeyRing, now: datetime) -> dict[str, Callable[[], object]]:
    plain = _profile()
    sealed = seal_profile(keys, plain)

    def encode(profile: HelperProfile) -> Callable[[], object]:
        return lambda: new_command(
            UpsertHelper(profile=profile), community_id="bench", issued_at=now
        ).model_dump_json()

    return {
        "api_upsert_encode_baseline": encode(plain),
        "api_seal_profile": lambda: seal_profile(keys, plain),
        "worker_reseal_sealed_profile": lambda: seal_profile(keys, sealed),
        "open_helper_name": lambda: helper_name(keys, sealed),
        "open_helper_platform_id": lambda: helper_detail(keys, sealed),
    }


def measure(rounds: int) -> dict[str, float]:
    keys = KeyRing("bench-contact-key-" + "k" * 32, [], "bench-helper-id-key-" + "h" * 32)
    now = datetime.now(UTC)
    plain = _spec()
    sealed = seal_spec(keys, plain)
    assert sealed.sealed is not None
    box = sealed.sealed
    plain_json = new_command(SubmitRequest(spec=plain), community_id="bench", issued_at=now)
    sealed_json = new_command(SubmitRequest(spec=sealed), community_id="bench", issued_at=now)
    raw_plain, raw_sealed = plain_json.model_dump_json(), sealed_json.model_dump_json()

    def encode(spec: RequestSpec) -> Callable[[], object]:
        return lambda: new_command(
            SubmitRequest(spec=spec), community_id="bench", issued_at=now
        ).model_dump_json()

    cases: dict[str, Callable[[], object]] = {
        "api_command_encode_baseline": encode(plain),
        "api_seal_spec": lambda: seal_spec(keys, plain),
        "worker_decode_plain_baseline": lambda: Command.model_validate_json(raw_plain),
        "worker_decode_sealed": lambda: seal_command(keys, Command.model_validate_json(raw_sealed)),
        "worker_decode_old_plain_and_seal": lambda: seal_command(
            keys, Command.model_validate_json(raw_plain)
        ),
        "open_box": lambda: open_sealed(keys, sealed.request_id, box),
        **_helper_cases(keys, now),
    }
    n = 2000
    out = {
        name: min(timeit.repeat(fn, number=n, repeat=rounds, timer=time.thread_time)) / n * 1e6
        for name, fn in cases.items()
    }
    out["command_bytes_plain"] = float(len(raw_plain))
    out["command_bytes_sealed"] = float(len(raw_sealed))
    upsert = [
        new_command(UpsertHelper(profile=p), community_id="bench", issued_at=now)
        for p in (_profile(), seal_profile(keys, _profile()))
    ]
    out["upsert_bytes_plain"] = float(len(upsert[0].model_dump_json()))
    out["upsert_bytes_sealed"] = float(len(upsert[1].model_dump_json()))
    return out


# One round of a side's `measure`, in thread CPU time whatever that side's code times with.
_CHILD = """
import functools, json, sys, time, timeit
sys.path.insert(0, sys.argv[1])
timeit.repeat = functools.partial(timeit.repeat, timer=time.thread_time)
from dispatcher.bench.sealing import measure
print(json.dumps(measure(1)))
"""


def compare(rev: str, rounds: int) -> dict[str, dict[str, float]]:
    from dispatcher.bench.match_compare import _ROOT, extract, resolve

    with tempfile.TemporaryDirectory(prefix="bench-sealing-") as tmp:
        sides = {"baseline": extract(resolve(rev), Path(tmp)), "current": _ROOT}
        best: dict[str, dict[str, float]] = {name: {} for name in sides}
        for round_ in range(rounds):
            order = list(sides) if round_ % 2 == 0 else list(sides)[::-1]
            for name in order:
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, str(sides[name])],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=tmp,
                )
                for case, value in json.loads(out.stdout).items():
                    best[name][case] = min(value, best[name].get(case, value))
    return best


def _unit(name: str) -> str:
    return "bytes" if "_bytes" in name else "µs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatcher.bench.sealing")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--compare", metavar="REV", help="a git revision to measure beside")
    args = parser.parse_args(argv)
    if args.compare:
        sides = compare(args.compare, args.rounds)
        if args.json:
            print(json.dumps({s: {k: round(v, 1) for k, v in r.items()} for s, r in sides.items()}))
            return 0
        print(f"{'':36} {args.compare[:12]:>12} {'current':>12}")
        for name, value in sides["current"].items():
            before = sides["baseline"].get(name)
            shown = "-" if before is None else f"{before:.1f}"
            print(f"{name:36} {shown:>12} {value:12.1f} {_unit(name)}")
        return 0
    result = measure(args.rounds)
    if args.json:
        print(json.dumps({k: round(v, 1) for k, v in result.items()}))
    else:
        for name, value in result.items():
            print(f"{name:36} {value:9.1f} {_unit(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
