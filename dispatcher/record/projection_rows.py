"""The read models' per-event writes: one handler per event kind (`HANDLERS`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg

from dispatcher.record.outcomes import closing_outcome
from dispatcher.record.projection_sets import mark_team_offers
from schemas.events import Event, OfferSent, OffersSent, sent_offers

Handler = Callable[[asyncpg.Connection, Event, dict[str, Any]], Awaitable[None]]


# The log is kept for reports without limit and read by staff: what names a person stays out
# of it. The requester's contact, place and text (request_private holds them, under its own
# retention); the helper's name for the asking group (plain in events from before issue
# 12.7, then its box); what was typed when a request ended (its box). The group loop and the
# notify agent read those from Kafka (kept 168 h); nothing read them from the log, where
# they were kept for good until session 34 (migration 0399 took them out of older rows).
_PRIVATE = {"contact", "place", "text", "sealed", "group_name", "sealed_group_name"}
_NOTE = {"sealed_note"}
_CLOSING = frozenset({"request_resolved", "request_cancelled", "request_referred"})


def log_body(event: Event, bodies: Mapping[str, str]) -> str:
    """The body as the log stores it (jsonb: key order and spacing are not kept, so pydantic's
    own serializer gives the same value as `json.dumps(model_dump(mode="json"))`, faster):
    the body's JSON the writer made (`bodies`, by event id), else serialised here."""
    body = event.body
    if body.type == "helper_assigned":
        return body.model_dump_json(exclude=_PRIVATE)
    if body.type in _CLOSING and getattr(body, "sealed_note", None) is not None:
        return body.model_dump_json(exclude=_NOTE)
    made = bodies.get(event.event_id)
    return made if made is not None else body.model_dump_json()


def _plain_contact(contact: dict[str, Any] | None) -> dict[str, Any]:
    """Only the fields that are set: a sealed event's empty contact is stored as `{}`."""
    return {k: v for k, v in (contact or {}).items() if v is not None}


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
    assert isinstance(e.body, OfferSent)
    await _offer_rows(conn, e, [e.body])


async def _offers_sent(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    assert isinstance(e.body, OffersSent)
    await _offer_rows(conn, e, sent_offers(e.body))


# A helper stood down because the slot was covered is asked again, under the same offer id
# (fixed by request and helper), once the slot reopens (session 40): the row is their open
# offer again. Only a stood-down row, and only from a send later than the one it holds: the
# log lets no event through twice, and were an older send (the one stood down) applied
# again, its time is not later, so nothing stood down comes back to life.
ASKED_AGAIN = """
ON CONFLICT (offer_id) DO UPDATE
  SET ring = EXCLUDED.ring, step = EXCLUDED.step, status = 'sent', sent_at = EXCLUDED.sent_at,
      expires_at = EXCLUDED.expires_at, answered_at = NULL, team_id = EXCLUDED.team_id,
      team_size = EXCLUDED.team_size, remote = EXCLUDED.remote
  WHERE offers.status = 'stood_down' AND offers.sent_at < EXCLUDED.sent_at
"""


async def _offer_rows(conn: asyncpg.Connection, e: Event, offers: list[OfferSent]) -> None:
    """One event's offers (one, or a wave's), each its row, then the request's count: one
    per helper asked (the core's `RequestExpired.offers_sent`), so a re-ask (`ASKED_AGAIN`)
    is not counted twice."""
    known = await conn.fetch(
        "SELECT offer_id FROM offers WHERE offer_id = ANY($1::text[])",
        [one.offer_id for one in offers],
    )
    asked_before = {r["offer_id"] for r in known}
    for one in offers:
        await conn.execute(
            """
            INSERT INTO offers (offer_id, request_id, helper_id, ring, step, status, sent_at,
                                expires_at, remote)
            VALUES ($1, $2, $3, $4, $5, 'sent', $6, $7, $8)
            """
            + ASKED_AGAIN,
            one.offer_id,
            e.request_id,
            one.helper_id,
            one.ring,
            one.step,
            e.occurred_at,
            one.expires_at,
            one.remote,
        )
    await mark_team_offers(conn, [one for one in offers if one.team_id is not None])
    await _touch(
        conn,
        e,
        "first_offer_at = COALESCE(first_offer_at, $3), offers_sent = offers_sent + $4",
        e.occurred_at,
        sum(one.offer_id not in asked_before for one in offers),
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


# Assigned again (after a withdrawal or stand-down): the assignment starts afresh.
ASSIGNED_AGAIN = """
ON CONFLICT (request_id, helper_id) DO UPDATE
  SET offer_id = EXCLUDED.offer_id, slot = EXCLUDED.slot, members = EXCLUDED.members,
      signed_up_by = EXCLUDED.signed_up_by,
      assigned_at = EXCLUDED.assigned_at, released_at = NULL, released_why = NULL,
      remote = EXCLUDED.remote, on_way_at = NULL, done_at = NULL,
      minutes_spent = NULL, minutes_given = NULL
"""


async def _helper_assigned(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    # A team's leader accepting for several holds them all - unless they named who goes:
    # then each named member's own event counts them (and the leader holds one slot).
    members = 1 if b.get("member_ids") else int(b.get("members", 1))
    await conn.execute(
        "UPDATE offers SET status = 'accepted', answered_at = $2 WHERE offer_id = $1",
        b["offer_id"],
        e.occurred_at,
    )
    await conn.execute(
        """
        INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at, remote,
                                 members, signed_up_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """
        + ASSIGNED_AGAIN,
        e.request_id,
        b["helper_id"],
        b["offer_id"],
        b["slot"],
        e.occurred_at,
        bool(b.get("remote", False)),
        members,
        b.get("signed_up_by"),  # a team member their leader signed up
    )
    await conn.execute(
        """
        INSERT INTO request_private (request_id, contact, place, text, sealed)
        VALUES ($1, $2::jsonb, $3::jsonb, $4, $5::jsonb)
        ON CONFLICT (request_id) DO NOTHING
        """,
        e.request_id,
        # Since issue 12.7 the contact and text come sealed (kept so, opened by the answer
        # page only); plain in events from before.
        json.dumps(_plain_contact(b.get("contact")), ensure_ascii=False),
        json.dumps(b["place"], ensure_ascii=False),
        b.get("text", ""),
        json.dumps(b["sealed"]) if b.get("sealed") else None,
    )
    await _touch(
        conn,
        e,
        "first_accept_at = COALESCE(first_accept_at, $3), helpers_assigned = helpers_assigned + $4",
        e.occurred_at,
        members,
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


async def _offers_stood_down(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    for one in b["offers"]:
        await _stood_down(conn, e, {**one, "reason": b["reason"]})


async def _ring_escalated(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "ring = $3, step = $4", b["to_ring"], b["step"])


async def _whistle(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "whistled_at = COALESCE(whistled_at, $3)", e.occurred_at)


async def _referral_advised(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "referral_advised = $3", b["to"])


async def _staff_not_reached(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "staff_unreached = $3", b["rung"])


async def _withdrawn(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    why = "no_show" if b["no_show"] else "withdrew"
    # A leader who accepted for several (a count, no names) held them all: all are free again.
    held = await conn.fetchval(
        "UPDATE assignments SET released_at = $3, released_why = $4 "
        "WHERE request_id = $1 AND helper_id = $2 RETURNING members",
        e.request_id,
        b["helper_id"],
        e.occurred_at,
        why,
    )
    await _touch(conn, e, "helpers_assigned = GREATEST(helpers_assigned - $3, 0)", held or 1)


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


# "ended" for a resolution by the system (its lifetime over): `closing_outcome`.
def _closed(status: str) -> Handler:
    async def handle(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
        await _touch(
            conn,
            e,
            "status = $3, outcome = $4, closed_at = COALESCE(closed_at, $5), "
            "rating = COALESCE($6, rating)",
            status,
            closing_outcome(status, b.get("by")),
            e.occurred_at,
            b.get("rating"),
        )

    return handle


async def _referred(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _closed("referred")(conn, e, b)
    await _touch(conn, e, "referred_to = $3, referred_department = $4", b["to"], b["department"])


async def _claimed(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "claimed_by = $3, claimed_at = $4", b["by"], e.occurred_at)


async def _helper_updated(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await conn.execute(
        """
        INSERT INTO helpers (helper_id, community_id, display_name, profile, active, updated_at,
                             teams, away, busy)
        VALUES ($1, $2, '', '{}'::jsonb, $3, $4, $5, $6, $7)
        ON CONFLICT (helper_id) DO UPDATE SET active = EXCLUDED.active,
                                              updated_at = EXCLUDED.updated_at,
                                              teams = EXCLUDED.teams,
                                              away = EXCLUDED.away,
                                              busy = EXCLUDED.busy
        -- Helper ids are not per community: another community's event (its worker never
        -- saw this helper) must not deactivate or regroup the row.
        WHERE helpers.community_id = EXCLUDED.community_id
        """,
        b["helper_id"],
        e.community_id,
        b["active"],
        e.occurred_at,
        list(b.get("teams", ())),
        b["away"],
        b["busy"],
    )


async def _held(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    await _touch(conn, e, "held_until = $3", b["until"])


async def _released(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    # Its ladder starts: time to first accept counts from here (the first release kept).
    await _touch(
        conn, e, "held_until = NULL, released_at = COALESCE(released_at, $3)", e.occurred_at
    )


async def _paused(conn: asyncpg.Connection, e: Event, b: dict[str, Any]) -> None:
    # Its ladder goes on at `until` (no event says so): readers compare it with now.
    await _touch(conn, e, "paused_until = $3, paused_local = $4", b["until"], b["local_time"])


HANDLERS: dict[str, Handler] = {
    "request_opened": _request_opened,
    "emergency_call_advised": _emergency_advised,
    "offer_sent": _offer_sent,
    "offers_sent": _offers_sent,
    "offer_declined": _offer_answer("declined"),
    "offer_expired": _offer_answer("expired"),
    "offer_failed": _offer_answer("failed"),
    "helper_assigned": _helper_assigned,
    "offer_stood_down": _stood_down,
    "offers_stood_down": _offers_stood_down,
    "ring_escalated": _ring_escalated,
    "whistle_blown": _whistle,
    "referred_to_emergency": _referral_advised,
    "staff_not_reached": _staff_not_reached,
    "helper_withdrawn": _withdrawn,
    "helper_set_off": _set_off,
    "assignment_completed": _completed,
    "request_resolved": _closed("resolved"),
    "request_cancelled": _closed("cancelled"),
    "request_referred": _referred,
    "request_expired": _closed("expired"),
    "helper_updated": _helper_updated,
    "request_claimed": _claimed,
    "request_held": _held,
    "request_released": _released,
    "request_paused": _paused,
    # whistle_reported_back: in the log only (the asking group hears it: groupchat).
    # command_rejected: in the log only.
}
