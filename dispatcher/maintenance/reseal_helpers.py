"""`python -m dispatcher reseal-helpers`: every stored helper profile sealed under the
active contact key, so that a previous key may be retired (README, contact-key rotation).

A request's box is kept only as long as the request (`DISPATCH_RETENTION_DAYS`), but a
helper's phone, name and platform user id as long as the helper: once a key is dropped
from `DISPATCH_CONTACT_KEYS_PREVIOUS`, a profile still sealed under it has lost them
(group robots no longer @-mention the helper, offer links no longer ask for their
platform login). The worker seals such boxes again under the active key when it decodes
or rebuilds a profile (`seal_profile`), but a profile nobody changes is not written again.

This reads the workers' helper table (its changelog) and sends, through the commands
topic, an UpsertHelper of each profile with a box under a previous key, the boxes sealed
again (the command id derives from the helper and the keys, so a second run sends
nothing the workers would apply twice). It then reads the table again until no such box
is left, or `--wait` runs out, and prints `left`: the old key may be dropped only when it
is 0 (the exit status is 0 only then, `--dry-run` included). `unreadable`: helpers with a
box under no configured key (a key dropped too early: put it back and run again).

Run it after every worker and API runs with the new key, away from a ledger import: the
UpsertHelper carries the whole profile as read, so a change made to the same helper in
the instant between the read and the write would be undone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dispatcher.clock import utcnow
from dispatcher.maintenance.helper_table import read_helper_states, send_commands
from dispatcher.sealing import KeyRing, keyring, seal_profile, stale_kids
from dispatcher.settings import Settings, get_settings
from schemas.commands import Command, UpsertHelper
from schemas.helpers import HelperProfile
from schemas.records import HelperState

_NS = uuid.UUID("9d3c1f0e-7a52-4e8b-b1c4-52e0f6a7d2b3")
POLL_S = 1.0


@dataclass(frozen=True)
class Plan:
    resealed: list[tuple[HelperProfile, HelperProfile]]  # (as stored, sealed again)
    unreadable: list[str]  # helper ids


def plan_reseals(states: Iterable[HelperState], ring: KeyRing) -> Plan:
    """The profiles with a box under a previous key, each with its boxes sealed again, and
    the helpers with a box that opens under no configured key."""
    plan = Plan([], [])
    for state in states:
        if not stale_kids(ring, state.profile):
            continue
        profile = seal_profile(ring, state.profile)
        if profile is not state.profile:
            plan.resealed.append((state.profile, profile))
        if stale_kids(ring, profile):
            plan.unreadable.append(state.helper_id)
    return plan


def reseal_command(
    ring: KeyRing, stored: HelperProfile, resealed: HelperProfile, now: datetime
) -> Command:
    kids = ",".join(stale_kids(ring, stored))
    return Command(
        command_id=str(uuid.uuid5(_NS, f"reseal:{stored.helper_id}:{kids}>{ring.active_kid}")),
        community_id=stored.community_id,
        issued_at=now,
        body=UpsertHelper(profile=resealed),
    )


async def _left(settings: Settings, ring: KeyRing, wait_s: float) -> Plan:
    """The table read again until no box under a previous key is left, or `wait_s`."""
    give_up = time.monotonic() + wait_s
    while True:
        plan = plan_reseals(await read_helper_states(settings), ring)
        if not plan.resealed or time.monotonic() >= give_up:
            return plan
        await asyncio.sleep(POLL_S)


async def run(settings: Settings, dry_run: bool, wait_s: float) -> dict[str, int | list[str]]:
    ring = keyring(settings)
    states = await read_helper_states(settings)
    plan = plan_reseals(states, ring)
    after = plan
    if not dry_run and plan.resealed:
        now = utcnow()
        await send_commands(
            settings, [reseal_command(ring, old, new, now) for old, new in plan.resealed]
        )
        after = await _left(settings, ring, wait_s)
    return {
        "helpers_read": len(states),
        "to_reseal": len(plan.resealed),
        "sent": 0 if dry_run else len(plan.resealed),
        "left": len(after.resealed),
        "unreadable": after.unreadable,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher reseal-helpers",
        description="Seal every helper profile under the active contact key (before a "
        "previous key is dropped from DISPATCH_CONTACT_KEYS_PREVIOUS).",
    )
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    parser.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the workers to write the profiles (default 120)",
    )
    args = parser.parse_args(argv)
    report = asyncio.run(run(get_settings(), args.dry_run, args.wait))
    json.dump(report, sys.stdout)
    print()
    return 0 if report["left"] == 0 else 1


if __name__ == "__main__":  # until `python -m dispatcher` lists it
    sys.exit(main(sys.argv[1:]))
