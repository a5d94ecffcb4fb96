"""What sealing contacts costs per help request, beside what the request costs anyway.

    python -m dispatcher.bench.sealing [--rounds 5] [--json]

Prints, in µs per call (the best of `--rounds` repeats, so a shared machine's noise shows
least): the API's `seal_spec` beside building and encoding the command it goes into; the
worker's decode of a sealed command beside the same command unsealed (the baseline);
opening the box (the assignment push, the answer page); sealing an old plain command on
decode (only records from before the change).
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from dispatcher.sealing import KeyRing, open_sealed, seal_command, seal_spec
from schemas.commands import Command, SubmitRequest, new_command
from schemas.places import PlacePath
from schemas.requests import RequesterContact, RequestSpec
from schemas.vocab import Category, Skill, Urgency


def _spec() -> RequestSpec:
    return RequestSpec(
        request_id="bench-request-0001",
        community_id="bench",
        place=PlacePath(
            community_id="bench", compound_id="c1", building_id="b3", unit="2", floor=5
        ),
        category=Category.HOSPITAL_TRANSPORT,
        urgency=Urgency.CRITICAL,
        skills=(Skill.DRIVING,),
        text="我在3号楼2单元501，老伴胸口疼，谁能开车送医院？",
        contact=RequesterContact(name="林女士", phone="13912345678", address="3号楼2单元501室"),
    )


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
    }
    n = 2000
    out = {
        name: min(timeit.repeat(fn, number=n, repeat=rounds)) / n * 1e6
        for name, fn in cases.items()
    }
    out["command_bytes_plain"] = float(len(raw_plain))
    out["command_bytes_sealed"] = float(len(raw_sealed))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatcher.bench.sealing")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.rounds)
    if args.json:
        print(json.dumps({k: round(v, 1) for k, v in result.items()}))
    else:
        for name, value in result.items():
            unit = "bytes" if name.startswith("command_bytes") else "µs"
            print(f"{name:36} {value:9.1f} {unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
