"""Write events into PostgreSQL: the append-only log plus the read models.

Idempotent by construction: an event is applied to the read models only when its id was
new to `event_log`, in the same transaction, so a replayed batch changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import asyncpg

from dispatcher.record.projection_head import (
    HEAD_KINDS,
    NO_BODIES,
    in_order,
    log_columns,
    record_head,
)
from dispatcher.record.projection_rows import HANDLERS
from dispatcher.record.projection_steps import WRITERS, apply_steps
from schemas.event_batch import Decoded
from schemas.events import Event


async def record_events(
    conn: asyncpg.Connection,
    events: Sequence[Event],
    *,
    bulk: bool = True,
    bodies: Mapping[str, str] = NO_BODIES,
) -> int:
    """Record a batch in one transaction; return how many events were new.

    `bulk=False` applies every event one by one (the reference path the benchmark compares).
    `bodies`: events' bodies as JSON by event id, where the writer made them (`Decoded`).
    """
    if not events:
        return 0
    # An event twice in one batch (a command replayed after a crash produces its record again,
    # and both copies can land in one poll) is recorded once: the log keeps one row, and the
    # read models' set-based steps would otherwise apply it twice (e.g. count an offer twice).
    events = _first_of_each(events)
    if not bulk:
        return await _one_by_one(conn, events)
    # The log, the new requests and the offer waves (most of the traffic) are one statement
    # (projection_head.py); the other kinds follow as steps. A batch with none of those is
    # that one statement, atomic on its own: no BEGIN and COMMIT round trips.
    # A helper asked again after a stand-down in the same batch: in parts (`in_order`).
    parts = in_order(events)
    rests = [_rest(part) for part in parts]
    if len(parts) == 1 and not rests[0]:
        return len(await record_head(conn, events, bodies))
    recorded = 0
    async with conn.transaction():
        for part, rest in zip(parts, rests, strict=True):
            new = await record_head(conn, part, bodies)
            await apply_steps(conn, [e for e in rest if e.event_id in new])
            recorded += len(new)
    return recorded


def _rest(events: Sequence[Event]) -> list[Event]:
    """The events the steps write (the head writes the others, or nobody does)."""
    return [
        e
        for e in events
        if e.body.type not in HEAD_KINDS and (e.body.type in WRITERS or e.body.type in HANDLERS)
    ]


def first_bodies(records: Iterable[Decoded]) -> dict[str, str]:
    """The writer's body JSON (`Decoded.bodies`) of each event id's first copy across
    `records`, in order, as `record_events` keeps the first copy of an event sent twice: none
    for an id whose first copy was decoded from its bytes, so a later copy's body never lands
    beside the first copy's envelope (a command replayed after a crash may decide otherwise)."""
    bodies: dict[str, str] = {}
    seen: set[str] = set()
    for decoded in records:
        made = decoded.bodies
        for e in decoded.events:
            if e.event_id not in seen:
                seen.add(e.event_id)
                body = made.get(e.event_id)
                if body is not None:
                    bodies[e.event_id] = body
    return bodies


def _first_of_each(events: Sequence[Event]) -> list[Event]:
    """The batch with each event id's first occurrence only, in order."""
    seen: set[str] = set()
    unique = []
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            unique.append(e)
    return unique


async def _one_by_one(conn: asyncpg.Connection, events: Sequence[Event]) -> int:
    async with conn.transaction():
        rows = await conn.fetch(
            """
            INSERT INTO event_log (event_id, community_id, request_id, type, occurred_at,
                                   caused_by, body)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                 $5::timestamptz[], $6::text[], $7::jsonb[])
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id
            """,
            *log_columns(events),
        )
        new = {r["event_id"] for r in rows}
        for e in events:
            handler = HANDLERS.get(e.body.type)
            if e.event_id in new and handler is not None:
                await handler(conn, e, e.body.model_dump())
    return len(new)
