"""`python -m dispatcher rekey-helpers`: move helpers off the old, reversible ids.

Helpers imported from a ledger before issue 12 have `uuid5(namespace, community + phone)`
ids, which reverse to the phone by trying every number. This reads the workers' helper
table (its compacted changelog topic), finds every active helper whose id is the old id of
its own (community, phone), and sends - through the commands topic, the one write path -
an UpsertHelper under the keyed id (`dispatcher/helper_ids.py`) and a DeactivateHelper of
the old one. Command ids derive from the pair, so running it twice sends nothing new that
the workers would apply twice. Requests already assigned to an old id finish under it;
personal links of moved helpers must be sent again (they name the old id).

What the API keeps in PostgreSQL under a helper's id (platform account, roster
membership, 结对: dispatcher/record/edge/helper_moves.py) moves along in the same run.
Those moves are derived from every active helper under its legacy or its keyed id, so a
run that stopped after sending, or an earlier release's run that moved nothing, is
completed by the next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiokafka.errors import KafkaError

from dispatcher.clock import utcnow
from dispatcher.helper_ids import id_key, keyed_helper_id, keyed_profile, legacy_helper_id
from dispatcher.maintenance.helper_table import (
    EX_UNAVAILABLE,
    kafka_failure,
    read_helper_states,
    send_commands,
)
from dispatcher.maintenance.helper_table import GROUP_PREFIX as GROUP_PREFIX  # its ACL's name
from dispatcher.record.connect import connect
from dispatcher.record.edge.helper_moves import MOVED, IdMove, move_rows
from dispatcher.sealing import keyring, seal_profile, unsealed_profile
from dispatcher.settings import Settings, get_settings
from schemas.commands import (
    Command,
    CommandBody,
    DeactivateHelper,
    PairHousehold,
    UpsertHelper,
)
from schemas.helpers import HelperProfile
from schemas.records import HelperState

_NS = uuid.UUID("5b0e8a3e-3f57-4c39-9a55-2f1f7f0c6a11")


@dataclass(frozen=True)
class Move:
    old: HelperProfile
    new: HelperProfile
    household_pairs: tuple[str, ...] = ()  # the household ledger's 结对 move along


def plan_moves(states: Iterable[HelperState], settings: Settings) -> list[Move]:
    """Active helpers still under their legacy id, with the profile under the keyed id."""
    moves = []
    ring = keyring(settings)
    for state in states:
        if state.profile.active:
            plain = unsealed_profile(ring, state.profile)  # the id derives from the phone
            keyed = keyed_profile(settings, plain)
            if keyed is not plain:
                community = keyed.place.community_id
                pairs = tuple(  # keyed as they travel (12.7); a digest stays as it is
                    ring.household_key(community, h) or h for h in state.household_pairs
                )
                moves.append(Move(state.profile, seal_profile(ring, keyed), pairs))
    return moves


def move_commands(move: Move, now: datetime) -> list[Command]:
    bodies: list[tuple[str, CommandBody]] = [
        ("upsert", UpsertHelper(profile=move.new)),
        *(
            (f"pair:{h}", PairHousehold(helper_id=move.new.helper_id, household_id=h))
            for h in move.household_pairs
        ),
        ("deactivate", DeactivateHelper(helper_id=move.old.helper_id)),
    ]
    return [
        Command(
            command_id=str(uuid.uuid5(_NS, f"{what}:{move.old.helper_id}:{move.new.helper_id}")),
            community_id=move.old.community_id,
            issued_at=now,
            body=body,
        )
        for what, body in bodies
    ]


def id_moves(states: Iterable[HelperState], settings: Settings) -> list[IdMove]:
    """(legacy id → keyed id) of every active helper under either: the ids whose rows in
    PostgreSQL move (a helper moved already still has its rows under the legacy id when
    the run that moved it stopped before moving them, or predates this)."""
    ring = keyring(settings)
    key = id_key(settings)
    found = []
    for state in states:
        if not state.profile.active:
            continue  # deactivated: its phone is gone, and its rows do not matter
        plain = unsealed_profile(ring, state.profile)
        if not plain.phone:
            continue
        community = plain.community_id
        legacy = legacy_helper_id(community, plain.phone)
        keyed = keyed_helper_id(key, community, plain.phone)
        if plain.helper_id in (legacy, keyed):
            found.append(IdMove(community, legacy, keyed))
    return found


async def move_helper_rows(
    conn: asyncpg.Connection, moves: Collection[IdMove], *, dry_run: bool
) -> dict[str, int]:
    """`move_rows`, when anything moves."""
    if not moves:
        return dict.fromkeys(MOVED, 0)
    return await move_rows(conn, moves, dry_run=dry_run)


async def run(settings: Settings, dry_run: bool) -> dict[str, int]:
    # PostgreSQL first: a DSN that cannot be used, or PostgreSQL away, ends the run before it
    # sends a command (a rerun would complete it, but an operator should fix that first).
    conn = await connect(settings.pg_dsn.get_secret_value())
    try:
        states = await read_helper_states(settings)
        moves = plan_moves(states, settings)
        if not dry_run:
            now = utcnow()
            await send_commands(settings, [c for m in moves for c in move_commands(m, now)])
        # After the commands: if they are not sent, the helpers have not moved, nor their rows.
        rows = await move_helper_rows(conn, id_moves(states, settings), dry_run=dry_run)
    finally:
        await conn.close()
    sent = 0 if dry_run else len(moves)
    return {"helpers_read": len(states), "to_move": len(moves), "sent": sent, **rows}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher rekey-helpers",
        description="Move helpers registered under the old (reversible) ids to keyed ids.",
    )
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        counts = asyncio.run(run(settings, args.dry_run))
    except KafkaError as exc:  # PostgreSQL's (OSError too): `python -m dispatcher` (PG_TOOLS)
        print(f"rekey-helpers: {kafka_failure(settings, exc)}", file=sys.stderr)
        return EX_UNAVAILABLE
    json.dump(counts, sys.stdout)
    print()
    return 0
