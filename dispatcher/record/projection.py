"""Write events into PostgreSQL: the append-only log plus the read models.

Idempotent by construction: an event is applied to the read models only when its id was
new to `event_log`, in the same transaction, so a replayed batch changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from schemas.events import Event, OfferSent

Handler = Callable[[asyncpg.Connection, Event, dict[str, Any]], Awaitable[None]]


async def record_events(
    conn: asyncpg.Connection, events: Sequence[Event], *, bulk: bool = True
) -> int:
    """Record a batch in one transaction; return how many events were new.

    `bulk=False` applies every event one by one (the reference path the benchmark compares).
    """
    if not events:
        return 0
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
            [e.event_id for e in events],
            [e.community_id for e in events],
            [e.request_id for e in events],
            [e.body.type for e in events],
            [e.occurred_at for e in events],
            [e.caused_by for e in events],
            [_body_json(e) for e in events],
        )
        new = {r["event_id"] for r in rows}
        fresh = [e for e in events if e.event_id in new]
        if bulk:
            # offer_sent is most of the traffic (a wave per request): one INSERT and one
            # UPDATE for the whole batch instead of two statements per offer. Its effects
            # commute with everything but request_opened, which therefore goes first.
            opened = [e for e in fresh if e.body.type == "request_opened"]
            offers = [e for e in fresh if e.body.type == "offer_sent"]
            for event in opened:
                await _request_opened(conn, event, event.body.model_dump())
            await _offers_sent(conn, offers)
            fresh = [e for e in fresh if e.body.type not in ("request_opened", "offer_sent")]
        for event in fresh:  # in order: a batch may hold several events of one request
            handler = HANDLERS.get(event.body.type)
            if handler is not None:
                await handler(conn, event, event.body.model_dump())
    return len(new)


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


def _body_json(event: Event) -> str:
    body = event.body.model_dump(mode="json")
    if event.body.type == "helper_assigned":
        # The log is read by staff reports: keep the requester's contact out of it
        # (request_private holds it, under its own retention).
        body = {k: v for k, v in body.items() if k not in {"contact", "place", "text"}}
    return json.dumps(body, ensure_ascii=False)


async def _request_opened(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    first_ring = str(b["ladder"][0]["ring"]) if b["ladder"] else None
    await conn.execute(
        """
        INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed,
                              status, ring, step, building_label, opened_at, last_event_id)
        VALUES ($1, $2, $3, $4, $5, 'open', $6, 0, $7, $8, $9)
        ON CONFLICT (request_id) DO NOTHING
        """,
        e.request_id,
        e.community_id,
        b["category"],
        b["urgency"],
        b["helpers_needed"],
        first_ring,
        b["building_label"],
        e.occurred_at,
        e.event_id,
    )


async def _touch(conn: asyncpg.Connection, e: Event, sets: str, *args: Any) -> None:
    """Update the request's row; $1 = request_id, $2 = event id, then `args` from $3."""
    await conn.execute(
        f"UPDATE requests SET {sets}, last_event_id = $2, updated_at = now() WHERE request_id = $1",
        e.request_id,
        e.event_id,
        *args,
    )


async def _emergency_advised(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "emergency_advised = $3", b["number"])


async def _offer_sent(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await conn.execute(
        """
        INSERT INTO offers (offer_id, request_id, helper_id, ring, step, status, sent_at,
                            expires_at)
        VALUES ($1, $2, $3, $4, $5, 'sent', $6, $7)
        ON CONFLICT (offer_id) DO NOTHING
        """,
        b["offer_id"],
        e.request_id,
        b["helper_id"],
        b["ring"],
        b["step"],
        e.occurred_at,
        b["expires_at"],
    )
    await _touch(
        conn,
        e,
        "first_offer_at = COALESCE(first_offer_at, $3), offers_sent = offers_sent + 1",
        e.occurred_at,
    )


def _offer_answer(status: str) -> Handler:
    async def handle(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
        await conn.execute(
            "UPDATE offers SET status = $2, answered_at = $3 WHERE offer_id = $1",
            b["offer_id"],
            status,
            e.occurred_at,
        )

    return handle


async def _helper_assigned(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE offers SET status = 'accepted', answered_at = $2 WHERE offer_id = $1",
        b["offer_id"],
        e.occurred_at,
    )
    await conn.execute(
        """
        INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at, remote)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (request_id, helper_id) DO UPDATE
          SET offer_id = EXCLUDED.offer_id, slot = EXCLUDED.slot,
              assigned_at = EXCLUDED.assigned_at, released_at = NULL, released_why = NULL,
              remote = EXCLUDED.remote, on_way_at = NULL, done_at = NULL,
              minutes_spent = NULL, minutes_given = NULL
        """,
        e.request_id,
        b["helper_id"],
        b["offer_id"],
        b["slot"],
        e.occurred_at,
        bool(b.get("remote", False)),
    )
    await conn.execute(
        """
        INSERT INTO request_private (request_id, contact, place, text)
        VALUES ($1, $2::jsonb, $3::jsonb, $4)
        ON CONFLICT (request_id) DO NOTHING
        """,
        e.request_id,
        json.dumps(b["contact"], ensure_ascii=False),
        json.dumps(b["place"], ensure_ascii=False),
        b.get("text", ""),
    )
    await _touch(
        conn,
        e,
        "first_accept_at = COALESCE(first_accept_at, $3), helpers_assigned = helpers_assigned + 1",
        e.occurred_at,
    )


async def _stood_down(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE offers SET status = 'stood_down', answered_at = COALESCE(answered_at, $2) "
        "WHERE offer_id = $1 AND status = 'sent'",
        b["offer_id"],
        e.occurred_at,
    )
    if b.get("was_assigned"):
        await conn.execute(
            "UPDATE assignments SET released_at = COALESCE(released_at, $3), "
            "released_why = COALESCE(released_why, $4) WHERE request_id = $1 AND helper_id = $2",
            e.request_id,
            b["helper_id"],
            e.occurred_at,
            b["reason"],
        )


async def _ring_escalated(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "ring = $3, step = $4", b["to_ring"], b["step"])


async def _whistle(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "whistled_at = COALESCE(whistled_at, $3)", e.occurred_at)


async def _referral_advised(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "referral_advised = $3", b["to"])


async def _withdrawn(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    why = "no_show" if b["no_show"] else "withdrew"
    await conn.execute(
        "UPDATE assignments SET released_at = $3, released_why = $4 "
        "WHERE request_id = $1 AND helper_id = $2",
        e.request_id,
        b["helper_id"],
        e.occurred_at,
        why,
    )
    await _touch(conn, e, "helpers_assigned = GREATEST(helpers_assigned - 1, 0)")


async def _set_off(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE assignments SET on_way_at = COALESCE(on_way_at, $3) "
        "WHERE request_id = $1 AND helper_id = $2",
        e.request_id,
        b["helper_id"],
        e.occurred_at,
    )


async def _completed(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE assignments SET done_at = $3, minutes_spent = $4, minutes_given = $5 "
        "WHERE request_id = $1 AND helper_id = $2",
        e.request_id,
        b["helper_id"],
        e.occurred_at,
        b["minutes"],
        b["minutes_given"],
    )


def _closed(outcome: str) -> Handler:
    async def handle(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
        await _touch(
            conn,
            e,
            "status = $3, outcome = $3, closed_at = COALESCE(closed_at, $4), "
            "rating = COALESCE($5, rating)",
            outcome,
            e.occurred_at,
            b.get("rating"),
        )

    return handle


async def _helper_updated(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await conn.execute(
        """
        INSERT INTO helpers (helper_id, community_id, display_name, profile, active, updated_at)
        VALUES ($1, $2, '', '{}'::jsonb, $3, $4)
        ON CONFLICT (helper_id) DO UPDATE SET active = EXCLUDED.active,
                                              updated_at = EXCLUDED.updated_at
        """,
        b["helper_id"],
        e.community_id,
        b["active"],
        e.occurred_at,
    )


HANDLERS: dict[str, Handler] = {
    "request_opened": _request_opened,
    "emergency_call_advised": _emergency_advised,
    "offer_sent": _offer_sent,
    "offer_declined": _offer_answer("declined"),
    "offer_expired": _offer_answer("expired"),
    "offer_failed": _offer_answer("failed"),
    "helper_assigned": _helper_assigned,
    "offer_stood_down": _stood_down,
    "ring_escalated": _ring_escalated,
    "whistle_blown": _whistle,
    "referred_to_emergency": _referral_advised,
    "helper_withdrawn": _withdrawn,
    "helper_set_off": _set_off,
    "assignment_completed": _completed,
    "request_resolved": _closed("resolved"),
    "request_cancelled": _closed("cancelled"),
    "request_referred": _closed("referred"),
    "request_expired": _closed("expired"),
    "helper_updated": _helper_updated,
    # command_rejected: in the log only.
}
