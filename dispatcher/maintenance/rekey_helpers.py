"""`python -m dispatcher rekey-helpers`: move helpers off the old, reversible ids.

Helpers imported from a ledger before issue 12 have `uuid5(namespace, community + phone)`
ids, which reverse to the phone by trying every number. This reads the workers' helper
table (its compacted changelog topic), finds every active helper whose id is the old id of
its own (community, phone), and sends - through the commands topic, the one write path -
an UpsertHelper under the keyed id (`dispatcher/helper_ids.py`) and a DeactivateHelper of
the old one. Command ids derive from the pair, so running it twice sends nothing new that
the workers would apply twice. Requests already assigned to an old id finish under it;
personal links of moved helpers must be sent again (they name the old id).
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

from aiokafka import AIOKafkaConsumer, TopicPartition

from dispatcher.api.producer import KafkaCommandSink
from dispatcher.clock import utcnow
from dispatcher.helper_ids import keyed_profile
from dispatcher.kafka_security import client_options
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
from streams.state_store import read_helpers

JOIN_TIMEOUT_S = 60.0
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


GROUP_PREFIX = "rekey-helpers-"  # the workers' KafkaUser may read groups named so


async def read_helper_states(settings: Settings) -> list[HelperState]:
    """The latest record per helper in the helper table's changelog (read to its end)."""
    topic = f"{settings.app_id}-helpers-changelog"
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=f"{GROUP_PREFIX}{uuid.uuid4().hex[:8]}",  # throwaway: commits nothing
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    latest: dict[bytes, bytes | None] = {}
    try:
        ends: dict[TopicPartition, int] | None = None
        give_up = time.monotonic() + JOIN_TIMEOUT_S
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    latest[r.key] = r.value
            assigned = consumer.assignment()
            if not assigned:
                if time.monotonic() > give_up:
                    raise SystemExit(f"no partitions of {topic} assigned: is the topic there?")
                continue  # still joining
            if ends is None:
                ends = await consumer.end_offsets(list(assigned))
            positions = [await consumer.position(tp) for tp in ends]
            if all(pos >= ends[tp] for pos, tp in zip(positions, ends, strict=True)):
                break
    finally:
        await consumer.stop()
    helpers, _, _ = read_helpers(latest.items())  # a profile is a record of its own
    return helpers


async def run(settings: Settings, dry_run: bool) -> dict[str, int]:
    states = await read_helper_states(settings)
    moves = plan_moves(states, settings)
    if not dry_run and moves:
        sink = KafkaCommandSink(settings)
        try:
            now = utcnow()
            for move in moves:
                for command in move_commands(move, now):
                    await sink.send(
                        settings.commands_topic,
                        command.community_id,
                        command.model_dump_json().encode(),
                    )
        finally:
            await sink.stop()
    sent = 0 if dry_run else len(moves)
    return {"helpers_read": len(states), "to_move": len(moves), "sent": sent}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher rekey-helpers",
        description="Move helpers registered under the old (reversible) ids to keyed ids.",
    )
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    args = parser.parse_args(argv)
    counts = asyncio.run(run(get_settings(), args.dry_run))
    json.dump(counts, sys.stdout)
    print()
    return 0
