"""The read models' set-based writes of answers and stand-downs, each in one or two statements
(`RUNS`; the batch's new requests and offer waves: projection_head; the other kinds:
projection_steps)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from schemas.events import Event, OfferSent, OffersStoodDown, OfferStoodDown, stand_downs

T = TypeVar("T")


def _last_per(items: Sequence[T], key: Callable[[T], Any]) -> list[T]:
    return list({key(e): e for e in items}.values())


def _first_per(items: Sequence[T], key: Callable[[T], Any]) -> list[T]:
    return list({key(e): e for e in reversed(items)}.values())


def _offer_id(e: Event) -> str:
    return str(getattr(e.body, "offer_id", ""))


ANSWERS = {"offer_declined": "declined", "offer_expired": "expired", "offer_failed": "failed"}


async def _answers(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Answers of any of the three kinds, in one UPDATE: per offer the last answer wins."""
    last = _last_per(events, _offer_id)
    await conn.execute(
        "UPDATE offers SET status = u.s, answered_at = u.t "
        "FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(o, s, t) "
        "WHERE offers.offer_id = u.o",
        [_offer_id(e) for e in last],
        [ANSWERS[e.body.type] for e in last],
        [e.occurred_at for e in last],
    )


async def _stood_down_run(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """A run of stand-downs, single or several to an event: at most two statements. The first
    per offer and per assignment is kept (status 'sent' only, COALESCE)."""
    each = [
        (e, one)
        for e in events
        if isinstance(e.body, OfferStoodDown | OffersStoodDown)
        for one in stand_downs(e.body)
    ]
    first = _first_per(each, lambda pair: pair[1].offer_id)
    await conn.execute(
        "UPDATE offers SET status = 'stood_down', answered_at = COALESCE(answered_at, u.t) "
        "FROM unnest($1::text[], $2::timestamptz[]) AS u(o, t) "
        "WHERE offers.offer_id = u.o AND offers.status = 'sent'",
        [one.offer_id for _, one in first],
        [e.occurred_at for e, _ in first],
    )
    released = _first_per(
        [pair for pair in each if pair[1].was_assigned],
        lambda pair: (pair[0].request_id, pair[1].helper_id),
    )
    if released:
        await conn.execute(
            "UPDATE assignments SET released_at = COALESCE(released_at, u.t), "
            "released_why = COALESCE(released_why, u.why) "
            "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) "
            "AS u(r, h, t, why) WHERE request_id = u.r AND helper_id = u.h",
            [e.request_id for e, _ in released],
            [one.helper_id for _, one in released],
            [e.occurred_at for e, _ in released],
            [one.reason for _, one in released],
        )


async def mark_team_offers(conn: asyncpg.Connection, teams: Sequence[OfferSent]) -> None:
    """Team offers (rare) also record their team; the common offer pays nothing for it."""
    if teams:
        await conn.execute(
            "UPDATE offers SET team_id = u.t, team_size = u.n "
            "FROM unnest($1::text[], $2::text[], $3::int[]) AS u(o, t, n) "
            "WHERE offers.offer_id = u.o",
            [b.offer_id for b in teams],
            [b.team_id for b in teams],
            [b.team_size for b in teams],
        )


# Kinds that touch only rows keyed by the offer (and its assignment), applied set-based.
Run = Callable[[asyncpg.Connection, Sequence[Event]], Awaitable[None]]
RUNS: dict[str, Run] = {
    **dict.fromkeys(ANSWERS, _answers),
    "offer_stood_down": _stood_down_run,
    "offers_stood_down": _stood_down_run,
}
