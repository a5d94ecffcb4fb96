"""The read models' set-based writes: the batch's new requests, its offer waves, answers and
stand-downs, each in one or two statements (`RUNS`; the other kinds: projection_steps)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from schemas.events import Event, OfferSent, OfferStoodDown, RequestOpened


def _last_per(events: Sequence[Event], key: Callable[[Event], Any]) -> list[Event]:
    return list({key(e): e for e in events}.values())


def _first_per(events: Sequence[Event], key: Callable[[Event], Any]) -> list[Event]:
    return list({key(e): e for e in reversed(events)}.values())


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
    """A run of stand-downs: at most two statements. Per event the first one wins (status
    'sent' only, COALESCE), so the first per offer and per assignment is kept."""
    first = _first_per(events, _offer_id)
    await conn.execute(
        "UPDATE offers SET status = 'stood_down', answered_at = COALESCE(answered_at, u.t) "
        "FROM unnest($1::text[], $2::timestamptz[]) AS u(o, t) "
        "WHERE offers.offer_id = u.o AND offers.status = 'sent'",
        [_offer_id(e) for e in first],
        [e.occurred_at for e in first],
    )
    released = _first_per(
        [e for e in events if isinstance(e.body, OfferStoodDown) and e.body.was_assigned],
        lambda e: (e.request_id, getattr(e.body, "helper_id", "")),
    )
    if released:
        bodies = [e.body for e in released if isinstance(e.body, OfferStoodDown)]
        await conn.execute(
            "UPDATE assignments SET released_at = COALESCE(released_at, u.t), "
            "released_why = COALESCE(released_why, u.why) "
            "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) "
            "AS u(r, h, t, why) WHERE request_id = u.r AND helper_id = u.h",
            [e.request_id for e in released],
            [b.helper_id for b in bodies],
            [e.occurred_at for e in released],
            [b.reason for b in bodies],
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


async def _requests_opened(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """One INSERT for the batch's new requests (a replayed one keeps its first row)."""
    pairs = [(e, e.body) for e in events if isinstance(e.body, RequestOpened)]
    if not pairs:
        return
    await conn.execute(
        """
        INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed,
                              status, ring, step, building_label, opened_at, last_event_id)
        SELECT r, c, g, u, n, 'open', f, 0, l, t, i
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[],
                    $7::text[], $8::timestamptz[], $9::text[]) AS u(r, c, g, u, n, f, l, t, i)
        ON CONFLICT (request_id) DO NOTHING
        """,
        [e.request_id for e, _ in pairs],
        [e.community_id for e, _ in pairs],
        [b.category for _, b in pairs],
        [b.urgency for _, b in pairs],
        [b.helpers_needed for _, b in pairs],
        [str(b.ladder[0].ring) if b.ladder else None for _, b in pairs],
        [b.building_label for _, b in pairs],
        [e.occurred_at for e, _ in pairs],
        [e.event_id for e, _ in pairs],
    )


async def _offers_sent(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    if not events:
        return
    bodies = [e.body for e in events if isinstance(e.body, OfferSent)]
    await conn.execute(
        """
        INSERT INTO offers (offer_id, request_id, helper_id, ring, step, status, sent_at,
                            expires_at)
        SELECT o, r, h, g, s, 'sent', t, x
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[],
                    $6::timestamptz[], $7::timestamptz[]) AS u(o, r, h, g, s, t, x)
        ON CONFLICT (offer_id) DO NOTHING
        """,
        [b.offer_id for b in bodies],
        [e.request_id for e in events],
        [b.helper_id for b in bodies],
        [str(b.ring) for b in bodies],
        [b.step for b in bodies],
        [e.occurred_at for e in events],
        [b.expires_at for b in bodies],
    )
    await mark_team_offers(conn, [b for b in bodies if b.team_id is not None])
    per_request: dict[str, tuple[datetime, int]] = {}
    for e in events:
        first, n = per_request.get(e.request_id or "", (e.occurred_at, 0))
        per_request[e.request_id or ""] = (min(first, e.occurred_at), n + 1)
    await conn.execute(
        """
        UPDATE requests SET first_offer_at = COALESCE(requests.first_offer_at, u.first),
                            offers_sent = requests.offers_sent + u.n, updated_at = now()
        FROM unnest($1::text[], $2::timestamptz[], $3::int[]) AS u(rid, first, n)
        WHERE requests.request_id = u.rid
        """,
        list(per_request),
        [v[0] for v in per_request.values()],
        [v[1] for v in per_request.values()],
    )


# Kinds that touch only rows keyed by the offer (and its assignment), applied set-based.
Run = Callable[[asyncpg.Connection, Sequence[Event]], Awaitable[None]]
RUNS: dict[str, Run] = {
    **dict.fromkeys(ANSWERS, _answers),
    "offer_stood_down": _stood_down_run,
}
