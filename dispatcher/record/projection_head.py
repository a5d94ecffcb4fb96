"""A batch's head: the log, the new requests and the offer waves in ONE statement.

Every statement is a round trip, and on this machine the worker's socket write of each costs
more CPU than the Python around it (py-spy, issue 18). The log's INSERT, the batch's
`request_opened` rows and its offers' rows (with the requests' offer counts) are data-
modifying CTEs of one statement: only the events the log did not hold yet (`new`) reach the
read models, as before. All CTEs see the snapshot from before the statement, so a request
opened in this batch cannot be updated by the counting UPDATE: its INSERT carries its
batch's offer count and first offer time instead, and the UPDATE counts the offers of
requests that already had a row (a later wave). Either way each offer is counted once, and
a helper asked again (`ASKED_AGAIN`, session 40: their stood-down row is their open offer
again) is not counted twice: only ids the offers table did not hold count.

Because the head writes a batch's sends before the steps write its stand-downs, a batch is
recorded in parts (`in_order`), cut before a send of an offer id the part already sent or
stood down: a re-ask then finds its row stood down, as recording one by one would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from dispatcher.record.projection_rows import ASKED_AGAIN, log_body
from schemas.events import (
    Event,
    OfferSent,
    OffersSent,
    OffersStoodDown,
    OfferStoodDown,
    RequestOpened,
    WaveOffer,
)

NO_BODIES: Mapping[str, str] = {}  # no body made by the writer: each serialised here
HEAD_KINDS = frozenset({"request_opened", "offer_sent", "offers_sent"})

HEAD_SQL = f"""
WITH new AS (
  INSERT INTO event_log (event_id, community_id, request_id, type, occurred_at, caused_by, body)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                       $6::text[], $7::jsonb[])
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), o AS (
  SELECT u.* FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                         $13::int[], $14::timestamptz[], $15::timestamptz[], $16::text[],
                         $17::int[], $27::bool[]) AS u(eid, o, r, h, g, s, t, x, tid, tn, rem)
  WHERE u.eid IN (SELECT event_id FROM new)
), sent AS (
  INSERT INTO offers (offer_id, request_id, helper_id, ring, step, status, sent_at,
                      expires_at, team_id, team_size, remote)
  SELECT o, r, h, g, s, 'sent', t, x, tid, tn, rem FROM o
  {ASKED_AGAIN.strip()}
), per AS (
  SELECT r, min(t) AS first,
         count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM offers f WHERE f.offer_id = o.o))::int
         AS n
  FROM o GROUP BY r
), opened AS (
  INSERT INTO requests (request_id, community_id, category, urgency, helpers_needed, status,
                        ring, step, building_label, opened_at, last_event_id, first_offer_at,
                        offers_sent)
  SELECT u.r, u.c, u.g, u.u, u.n, 'open', u.f, 0, u.l, u.t, u.i, per.first,
         COALESCE(per.n, 0)
  FROM unnest($18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::int[],
              $24::text[], $25::text[], $26::timestamptz[]) AS u(i, r, c, g, u, n, f, l, t)
  LEFT JOIN per ON per.r = u.r
  WHERE u.i IN (SELECT event_id FROM new)
  ON CONFLICT (request_id) DO NOTHING
), counted AS (
  UPDATE requests SET first_offer_at = COALESCE(requests.first_offer_at, per.first),
                      offers_sent = requests.offers_sent + per.n, updated_at = now()
  FROM per WHERE requests.request_id = per.r
)
SELECT event_id FROM new
"""


def log_columns(events: Sequence[Event], bodies: Mapping[str, str] = NO_BODIES) -> list[list[Any]]:
    """The `event_log` row of each event, as the seven arrays the unnest() INSERTs take;
    `bodies` holds bodies' JSON the writer made, by event id (`Decoded.bodies`)."""
    return [
        [e.event_id for e in events],
        [e.community_id for e in events],
        [e.request_id for e in events],
        [e.body.type for e in events],
        [e.occurred_at for e in events],
        [e.caused_by for e in events],
        [log_body(e, bodies) for e in events],
    ]


async def record_head(
    conn: asyncpg.Connection, events: Sequence[Event], bodies: Mapping[str, str] = NO_BODIES
) -> set[str]:
    """Write the batch's log rows, new requests and offers; return the ids new to the log."""
    # A wave's offers (`offers_sent`) or an older worker's one by one (`offer_sent`): each
    # as (event, its step and expiry, its offer), read from the wave's own `WaveOffer`s (the
    # fields a row takes are on both) rather than an `OfferSent` built per offer.
    offers: list[tuple[Event, OfferSent | OffersSent, OfferSent | WaveOffer]] = []
    for e in events:
        body = e.body
        if isinstance(body, OffersSent):
            offers.extend((e, body, o) for o in body.offers)
        elif isinstance(body, OfferSent):
            offers.append((e, body, body))
    opened = [(e, e.body) for e in events if isinstance(e.body, RequestOpened)]
    rows = await conn.fetch(
        HEAD_SQL,
        *log_columns(events, bodies),
        [e.event_id for e, _, _ in offers],
        [o.offer_id for _, _, o in offers],
        [e.request_id for e, _, _ in offers],
        [o.helper_id for _, _, o in offers],
        [str(o.ring) for _, _, o in offers],
        [w.step for _, w, _ in offers],
        [e.occurred_at for e, _, _ in offers],
        [w.expires_at for _, w, _ in offers],
        # A team offer (rare) also records its team; NULL otherwise, as the column's default.
        [o.team_id for _, _, o in offers],
        [o.team_size if o.team_id is not None else None for _, _, o in offers],
        [e.event_id for e, _ in opened],
        [e.request_id for e, _ in opened],
        [e.community_id for e, _ in opened],
        [b.category for _, b in opened],
        [b.urgency for _, b in opened],
        [b.helpers_needed for _, b in opened],
        [str(b.ladder[0].ring) if b.ladder else None for _, b in opened],
        [b.building_label for _, b in opened],
        [e.occurred_at for e, _ in opened],
        # Last, so the parameters above keep their numbers: a phone offer (the page asks
        # the helper to call, not to come).
        [o.remote for _, _, o in offers],
    )
    return {r["event_id"] for r in rows}


def in_order(events: Sequence[Event]) -> list[Sequence[Event]]:
    """`events` cut before each send of an offer id that the part so far already sent or
    stood down (a helper asked again once a slot reopened, rare): each part's head then
    holds one send per offer id (an upsert may touch a row once per statement) and sees the
    stand-downs before it. Most batches are one part."""
    parts: list[Sequence[Event]] = []
    start, seen = 0, set[str]()
    for i, e in enumerate(events):
        body = e.body
        if isinstance(body, OffersSent | OfferSent):
            ids = (
                [o.offer_id for o in body.offers]
                if isinstance(body, OffersSent)
                else [body.offer_id]
            )
            if not seen.isdisjoint(ids):
                parts.append(events[start:i])
                start, seen = i, set()
            seen.update(ids)
        elif isinstance(body, OffersStoodDown):
            seen.update(o.offer_id for o in body.offers)
        elif isinstance(body, OfferStoodDown):
            seen.add(body.offer_id)
    parts.append(events[start:])
    return parts
