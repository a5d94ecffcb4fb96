"""`python -m dispatcher reseal-helpers`: every stored helper profile written again as the
workers keep it now: sealed under the active contact key, so that a previous key may be
retired (README, contact-key rotation), and without the contact of a helper off the roster.

A request's box is kept only as long as the request (`DISPATCH_RETENTION_DAYS`), but a
helper's phone, name and platform user id as long as the helper: once a key is dropped
from `DISPATCH_CONTACT_KEYS_PREVIOUS`, a profile still sealed under it has lost them
(group robots no longer @-mention the helper, offer links no longer ask for their
platform login). And a helper deactivated before deactivating erased the contact is
stored inactive with it. The worker seals such a profile again, and erases an inactive
helper's contact, when it decodes or rebuilds it (`seal_profile`); but a profile nobody
changes is not written again, so its table (and changelog) keeps the old boxes.

This reads the workers' helper table (its changelog) and has each worker write those
helpers from its own state: never a profile as read here, which a ledger import or a
self-registration changing the same helper meanwhile would see undone. It sends, through
the commands topic, a `RewriteHelper` of each: applied to the worker's current state, it
stores the helper as the worker holds it and changes nothing else.

It then reads the table again until nothing is left, or `--wait` runs out, and prints
`left`: the old key may be dropped only when it is 0 (the exit status is 0 only then,
`--dry-run` included; 69, with one line saying why, when Kafka cannot be reached or the
helper table's changelog is not there). `unreadable`: helpers with a box under no
configured key (a key dropped too early: put it back and run again). Run it after every
worker runs with the new key (a worker holds what it read at its start): an older worker
writes its old boxes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka.errors import KafkaError

from dispatcher.clock import utcnow
from dispatcher.maintenance.helper_table import kafka_failure, read_helper_states, send_commands
from dispatcher.sealing import KeyRing, keyring, seal_profile, stale_kids
from dispatcher.settings import Settings, get_settings
from schemas.commands import Command, RewriteHelper
from schemas.records import HelperState

POLL_S = 1.0
TOOL = "reseal-helpers"
EX_UNAVAILABLE = 69  # sysexits.h, as `topics` and `phone-keys` say Kafka cannot be used


@dataclass(frozen=True)
class Plan:
    # Active, a box under a previous key (or a contact from before 12.7 in the clear).
    stale: list[HelperState] = field(default_factory=list)
    retired: list[HelperState] = field(default_factory=list)  # inactive, contact kept
    unreadable: list[str] = field(default_factory=list)  # helper ids

    @property
    def rewrite(self) -> list[HelperState]:
        return [*self.stale, *self.retired]


def plan_reseals(states: Iterable[HelperState], ring: KeyRing) -> Plan:
    """The helpers the workers would store otherwise than their table holds: boxes under a
    previous key, or an inactive helper's contact; and those with a box that opens under
    no configured key."""
    plan = Plan()
    for state in states:
        profile = state.profile
        kept = seal_profile(ring, profile)
        if kept is not profile:
            (plan.stale if profile.active else plan.retired).append(state)
        if stale_kids(ring, kept):
            plan.unreadable.append(state.helper_id)
    return plan


def rewrite_commands(plan: Plan, now: datetime) -> list[Command]:
    """One `RewriteHelper` per helper to write. Fresh ids: a rewrite applied once already
    (by a worker still under the old key) must be applied again by the next run, not
    skipped as a re-delivery."""
    return [
        Command(
            command_id=str(uuid.uuid4()),
            community_id=s.community_id,
            issued_at=now,
            body=RewriteHelper(helper_id=s.helper_id),
        )
        for s in plan.rewrite
    ]


async def _left(settings: Settings, ring: KeyRing, wait_s: float) -> Plan:
    """The table read again until nothing is left to write, or `wait_s`."""
    give_up = time.monotonic() + wait_s
    while True:
        plan = plan_reseals(await read_helper_states(settings), ring)
        if not plan.rewrite or time.monotonic() >= give_up:
            return plan
        await asyncio.sleep(POLL_S)


async def run(settings: Settings, dry_run: bool, wait_s: float) -> dict[str, int | list[str]]:
    ring = keyring(settings)
    states = await read_helper_states(settings)
    plan = plan_reseals(states, ring)
    after = plan
    rewrites = rewrite_commands(plan, utcnow())
    if not dry_run and rewrites:
        await send_commands(settings, rewrites)
        after = await _left(settings, ring, wait_s)
    return {
        "helpers_read": len(states),
        "to_reseal": len(plan.stale),
        "to_erase": len(plan.retired),
        "sent": 0 if dry_run else len(rewrites),
        "left": len(after.rewrite),
        "unreadable": after.unreadable,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher reseal-helpers",
        description="Have the workers write every helper profile as they now keep it: sealed "
        "under the active contact key (before a previous key is dropped from "
        "DISPATCH_CONTACT_KEYS_PREVIOUS), and without an inactive helper's contact.",
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
    settings = get_settings()
    try:
        report = asyncio.run(run(settings, args.dry_run, args.wait))
    except (KafkaError, OSError) as exc:  # not 1, which says helpers are left to write
        print(f"{TOOL}: {kafka_failure(settings, exc)}", file=sys.stderr)
        return EX_UNAVAILABLE
    json.dump(report, sys.stdout)
    print()
    return 0 if report["left"] == 0 else 1


if __name__ == "__main__":  # until `python -m dispatcher` lists it
    sys.exit(main(sys.argv[1:]))
