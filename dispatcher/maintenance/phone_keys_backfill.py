"""`python -m dispatcher phone-keys`: the phone digests of roster helpers put on the roster
before migration 0395, written into `helper_phone_keys`.

An approval of a self-registration is refused when an active roster helper of the
community holds its phone (`phone_keys.holders`: one phone, one helper), but the API has
kept those digests only since 0395: a helper imported before has no row, so the sign-up
of their phone was approved as a second helper of one person. This reads the workers'
helper table (its changelog, like reseal-helpers), opens each active helper's phone with
the contact keys and writes its digest (`KeyRing.phone_key`) where the helper has none.

A row the API wrote is kept as it is (newer than the changelog read here), and a helper
the read model records inactive gets none (deactivated meanwhile: nothing that could name
an off-roster helper is kept, migration 0393's rule). `unreadable`: helpers whose phone
opens under no configured key (a key dropped too early: put it back, run again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka.errors import KafkaError

from dispatcher.clock import utcnow
from dispatcher.maintenance.helper_table import kafka_failure, read_helper_states
from dispatcher.record.connect import connect
from dispatcher.record.edge import phone_keys
from dispatcher.sealing import KeyRing, helper_phone, keyring
from dispatcher.settings import Settings, get_settings
from schemas.records import HelperState

TOOL = "phone-keys"
BATCH = 5000  # helpers per statement: one round trip each, arrays well below any limit
EX_UNAVAILABLE = 69  # sysexits.h, as `topics` says Kafka cannot be reached


class KafkaUnreachable(Exception):
    """The helper table could not be read; the text says why (one line)."""


@dataclass(frozen=True)
class Digest:
    community_id: str
    helper_id: str
    phone_key: str


@dataclass
class Plan:
    digests: list[Digest] = field(default_factory=list)  # active helpers with a phone
    helpers: int = 0
    active: int = 0
    no_phone: int = 0
    unreadable: list[str] = field(default_factory=list)  # helper ids, never a phone


def plan_digests(
    states: Iterable[HelperState], ring: KeyRing, communities: Collection[str] = ()
) -> Plan:
    """Each active helper's phone digest (of `communities`, or all when empty). One state
    per (community, helper): the last read wins, as in the table."""
    latest: dict[tuple[str, str], HelperState] = {}
    for state in states:
        community = state.profile.community_id
        if not communities or community in communities:
            latest[(community, state.helper_id)] = state
    plan = Plan(helpers=len(latest))
    for (community, helper_id), state in latest.items():
        profile = state.profile
        if not profile.active:
            continue  # its contact is erased, and it must get no digest back
        plan.active += 1
        phone = helper_phone(ring, profile)
        if phone is None and profile.sealed_phone is not None:
            plan.unreadable.append(helper_id)
            continue
        key = ring.phone_key(phone)
        if key is None:
            plan.no_phone += 1
            continue
        plan.digests.append(Digest(community, helper_id, key))
    plan.unreadable.sort()
    return plan


def batches(digests: Sequence[Digest], size: int = BATCH) -> list[tuple[str, list[Digest]]]:
    """(community, up to `size` of its digests), community by community."""
    by_community: dict[str, list[Digest]] = {}
    for d in digests:
        by_community.setdefault(d.community_id, []).append(d)
    return [
        (community, rows[i : i + size])
        for community, rows in sorted(by_community.items())
        for i in range(0, len(rows), size)
    ]


async def write(
    conn: asyncpg.Connection, digests: Sequence[Digest], *, dry_run: bool
) -> dict[str, int]:
    """Rows inserted (or that would be), rows present already, helpers the read model
    records inactive (no row)."""
    counts = {"inserted": 0, "present": 0, "deactivated": 0}
    now = utcnow()
    done = 0
    for community, rows in batches(digests):
        ids = [d.helper_id for d in rows]
        keys = [d.phone_key for d in rows]
        inserted, eligible = await phone_keys.backfill(
            conn, community, ids, keys, now, dry_run=dry_run
        )
        counts["inserted"] += inserted
        counts["present"] += eligible - inserted
        counts["deactivated"] += len(rows) - eligible
        done += len(rows)
        progress(f"{'checked' if dry_run else 'written'} {done}/{len(digests)} ({community})")
    return counts


def progress(line: str) -> None:
    print(f"{TOOL}: {line}", file=sys.stderr, flush=True)


async def run(
    settings: Settings, communities: Collection[str], dry_run: bool
) -> dict[str, int | list[str]]:
    # PostgreSQL first: it must be usable before the (long) read of the changelog.
    conn = await connect(settings.pg_dsn.get_secret_value())
    try:
        progress(f"reading the helper table ({settings.app_id}-helpers-changelog)")
        try:
            states = await read_helper_states(settings)
        except (KafkaError, OSError) as exc:
            raise KafkaUnreachable(kafka_failure(settings, exc)) from None
        plan = plan_digests(states, keyring(settings), communities)
        progress(f"read {len(states)} helper(s); {len(plan.digests)} digest(s) to check")
        counts = await write(conn, plan.digests, dry_run=dry_run)
    finally:
        await conn.close()
    return {
        "helpers": plan.helpers,
        "active": plan.active,
        **counts,
        "no_phone": plan.no_phone,
        "unreadable": len(plan.unreadable),
        "unreadable_ids": plan.unreadable,
        "dry_run": dry_run,
    }


def summary(report: dict[str, int | list[str]]) -> str:
    r = report
    dry = " (dry run: nothing written)" if r["dry_run"] else ""
    return (
        f"{TOOL}: helpers {r['helpers']} (active {r['active']}), inserted {r['inserted']}, "
        f"present {r['present']}, deactivated {r['deactivated']}, no_phone {r['no_phone']}, "
        f"unreadable {r['unreadable']}{dry}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m dispatcher {TOOL}",
        description="Write the phone digest of every active roster helper that has none "
        "(helpers put on the roster before migration 0395), so that a sign-up with their "
        "phone is refused on approval. Rows the API wrote are kept.",
    )
    parser.add_argument(
        "--community", action="append", default=[], help="only this community (repeatable)"
    )
    parser.add_argument("--dry-run", action="store_true", help="count, write nothing")
    parser.add_argument("--json", action="store_true", help="the summary as JSON")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        report = asyncio.run(run(settings, frozenset(args.community), args.dry_run))
    except KafkaUnreachable as exc:  # PostgreSQL's failures: `python -m dispatcher` (PG_TOOLS)
        print(f"{TOOL}: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    if report["unreadable_ids"]:
        progress(f"unreadable (no configured key opens the phone): {report['unreadable_ids']}")
    if args.json:
        json.dump(report, sys.stdout)
        print()
    else:
        print(summary(report))
    return 0


if __name__ == "__main__":  # `python -m dispatcher phone-keys` is the documented way
    sys.exit(main(sys.argv[1:]))
