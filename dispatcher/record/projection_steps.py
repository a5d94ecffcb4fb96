"""A batch's read-model writes: one set-based statement per event kind, mostly.

Events of different requests touch disjoint rows (requests, offers, assignments and
request_private are all keyed by the request), so they commute; only one request's own
events must keep their order, and even those only where two kinds write a common table
(`TABLES`). `steps` therefore cuts each request's events into runs of one kind and schedules
the runs as steps of one kind for many requests. A step is written by its kind's writer,
which folds a run exactly as applying its events one by one would (`WRITERS`); a kind
without one (helper_withdrawn, rare) falls back to the per-event handler.
Events without a request (roster updates, the log-only kinds) share one key, so they keep
their order among themselves.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from dispatcher.record.outcomes import closing_outcome
from dispatcher.record.projection_rows import ASSIGNED_AGAIN, HANDLERS, _plain_contact
from dispatcher.record.projection_sets import ANSWERS, RUNS, Run, _first_per, _last_per
from schemas.events import Event, HelperAssigned, HelperUpdated, OffersStoodDown

# How a run of one request's events folds one column, as the per-event UPDATEs would:
LAST = 0  # `col = $`: the last event's value
FIRST = 1  # `col = COALESCE(col, $)`: the first event's value
LAST_SET = 2  # `col = COALESCE($, col)`: the last value that is not NULL


@dataclass(frozen=True)
class Touch:
    """An UPDATE of the request's row: `sets` reads u.<name> for each column in `cols`."""

    sets: str
    cols: tuple[tuple[str, str, int, Callable[[Event], Any]], ...]  # name, type, fold, value
    sql: str = field(init=False)

    def __post_init__(self) -> None:
        names = ", ".join(name for name, *_ in self.cols)
        arrays = ", ".join(f"${i}::{t}[]" for i, (_, t, *_) in enumerate(self.cols, start=3))
        sql = (
            f"UPDATE requests SET {self.sets}, last_event_id = u.eid, updated_at = now() "
            f"FROM unnest($1::text[], $2::text[], {arrays}) AS u(rid, eid, {names}) "
            "WHERE requests.request_id = u.rid"
        )
        object.__setattr__(self, "sql", sql)

    async def __call__(self, conn: asyncpg.Connection, events: Sequence[Event]) -> None:
        folds = [fold for _, _, fold, _ in self.cols]
        rows: dict[str, list[Any]] = {}
        for e in events:
            values = [value(e) for *_, value in self.cols]
            row = rows.get(e.request_id or "")
            if row is None:
                rows[e.request_id or ""] = [e.event_id, *values]
                continue
            row[0] = e.event_id
            for i, (fold, v) in enumerate(zip(folds, values, strict=True), start=1):
                if fold == LAST or (fold == LAST_SET and v is not None):
                    row[i] = v
        await conn.execute(self.sql, list(rows), *map(list, zip(*rows.values(), strict=True)))


def _body(name: str) -> Callable[[Event], Any]:
    return lambda e: getattr(e.body, name)


def _at(e: Event) -> Any:
    return e.occurred_at


def _closed(status: str, extra: str = "", *cols: tuple[str, str, int, Any]) -> Touch:
    return Touch(
        "status = u.s, outcome = u.o, closed_at = COALESCE(closed_at, u.t), "
        "rating = COALESCE(u.r, rating)" + extra,
        (
            ("s", "text", LAST, lambda e: status),
            ("o", "text", LAST, lambda e: closing_outcome(status, getattr(e.body, "by", None))),
            ("t", "timestamptz", FIRST, _at),
            ("r", "int", LAST_SET, lambda e: getattr(e.body, "rating", None)),
            *cols,
        ),
    )


TOUCHES: dict[str, Touch] = {
    "emergency_call_advised": Touch(
        "emergency_advised = u.n", (("n", "text", LAST, _body("number")),)
    ),
    "ring_escalated": Touch(
        "ring = u.g, step = u.s",
        (("g", "text", LAST, _body("to_ring")), ("s", "int", LAST, _body("step"))),
    ),
    "whistle_blown": Touch(
        "whistled_at = COALESCE(whistled_at, u.t)", (("t", "timestamptz", FIRST, _at),)
    ),
    "referred_to_emergency": Touch("referral_advised = u.v", (("v", "text", LAST, _body("to")),)),
    "staff_not_reached": Touch("staff_unreached = u.v", (("v", "text", LAST, _body("rung")),)),
    "request_claimed": Touch(
        "claimed_by = u.b, claimed_at = u.t",
        (("b", "text", LAST, _body("by")), ("t", "timestamptz", LAST, _at)),
    ),
    "request_held": Touch("held_until = u.t", (("t", "timestamptz", LAST, _body("until")),)),
    # A release clears the hold and starts the ladder: time to first accept counts from the
    # first release (dispatcher/record/read/dashboard.py `ASKED_FROM`).
    "request_released": Touch(
        "held_until = NULL, released_at = COALESCE(released_at, u.t)",
        (("t", "timestamptz", FIRST, _at),),
    ),
    # A climbing ladder paused for quiet hours: the dashboard shows it paused until then.
    "request_paused": Touch(
        "paused_until = u.t, paused_local = u.l",
        (("t", "timestamptz", LAST, _body("until")), ("l", "text", LAST, _body("local_time"))),
    ),
    "request_resolved": _closed("resolved"),
    "request_cancelled": _closed("cancelled"),
    "request_expired": _closed("expired"),
    "request_referred": _closed(
        "referred",
        ", referred_to = u.rt, referred_department = u.rd",
        ("rt", "text", LAST, _body("to")),
        ("rd", "text", LAST, _body("department")),
    ),
}


def _members(b: HelperAssigned) -> int:
    # As the per-event path: a leader who named who goes holds one slot.
    return 1 if b.member_ids else int(b.members)


async def _assigned(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """A step's assignments in one statement: the offers accepted, the assignments upserted
    (the last per helper wins), each request's private part inserted once (the first), the
    requests' counts (one CTE per table; they touch different tables, so order is moot)."""
    pairs = [(e, e.body) for e in events if isinstance(e.body, HelperAssigned)]
    offers = _last_per(events, lambda e: getattr(e.body, "offer_id", ""))
    held = _last_per(events, lambda e: (e.request_id, getattr(e.body, "helper_id", "")))
    private = [(e, e.body) for e in _first_per(events, lambda e: e.request_id)]
    requests: dict[str, list[Any]] = {}
    for e, b in pairs:
        row = requests.setdefault(e.request_id or "", [e.occurred_at, 0, e.event_id])
        row[1] += _members(b)
        row[2] = e.event_id
    held_bodies = [e.body for e in held if isinstance(e.body, HelperAssigned)]
    private_bodies = [(e, b) for e, b in private if isinstance(b, HelperAssigned)]
    await conn.execute(
        """
        WITH o AS (
          UPDATE offers SET status = 'accepted', answered_at = u.t
          FROM unnest($1::text[], $2::timestamptz[]) AS u(o, t) WHERE offers.offer_id = u.o
        ), a AS (
          INSERT INTO assignments (request_id, helper_id, offer_id, slot, assigned_at, remote,
                                   members, signed_up_by)
          SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::int[],
                               $7::timestamptz[], $8::bool[], $9::int[], $10::text[])
        """
        + ASSIGNED_AGAIN
        + """
        ), p AS (
          INSERT INTO request_private (request_id, contact, place, text, sealed)
          SELECT * FROM unnest($11::text[], $12::jsonb[], $13::jsonb[], $14::text[],
                               $15::jsonb[])
          ON CONFLICT (request_id) DO NOTHING
        )
        UPDATE requests SET first_accept_at = COALESCE(first_accept_at, u.t),
                            helpers_assigned = helpers_assigned + u.n,
                            last_event_id = u.eid, updated_at = now()
        FROM unnest($16::text[], $17::timestamptz[], $18::int[], $19::text[])
             AS u(rid, t, n, eid)
        WHERE requests.request_id = u.rid
        """,
        [getattr(e.body, "offer_id", "") for e in offers],
        [e.occurred_at for e in offers],
        [e.request_id for e in held],
        [b.helper_id for b in held_bodies],
        [b.offer_id for b in held_bodies],
        [b.slot for b in held_bodies],
        [e.occurred_at for e in held],
        [bool(b.remote) for b in held_bodies],
        [_members(b) for b in held_bodies],
        [b.signed_up_by for b in held_bodies],  # a team member their leader signed up
        [e.request_id for e, _ in private_bodies],
        *_private_columns([b for _, b in private_bodies]),
        list(requests),
        *map(list, zip(*requests.values(), strict=True)),
    )


def _private_columns(bodies: Sequence[HelperAssigned]) -> list[list[Any]]:
    """Contact, place, text, sealed: as the per-event path writes them (sealed since issue
    12.7, plain in events from before)."""
    dumped = [b.model_dump(include={"contact", "place", "text", "sealed"}) for b in bodies]
    return [
        [json.dumps(_plain_contact(d.get("contact")), ensure_ascii=False) for d in dumped],
        [json.dumps(d["place"], ensure_ascii=False) for d in dumped],
        [d.get("text", "") for d in dumped],
        [json.dumps(d["sealed"]) if d.get("sealed") else None for d in dumped],
    ]


def _helper_key(e: Event) -> tuple[str | None, str]:
    return (e.request_id, str(getattr(e.body, "helper_id", "")))


async def _per_assignment(
    conn: asyncpg.Connection,
    events: Sequence[Event],
    sets: str,
    cols: tuple[tuple[str, str, Callable[[Event], Any]], ...],
) -> None:
    """UPDATE assignments by (request, helper); `sets` reads u.<name> for each of `cols`."""
    arrays = ", ".join(f"${i}::{t}[]" for i, (_, t, _) in enumerate(cols, start=3))
    await conn.execute(
        f"UPDATE assignments SET {sets} FROM unnest($1::text[], $2::text[], {arrays}) "
        f"AS u(r, h, {', '.join(name for name, *_ in cols)}) "
        "WHERE request_id = u.r AND helper_id = u.h",
        [e.request_id for e in events],
        [_helper_key(e)[1] for e in events],
        *[[value(e) for e in events] for *_, value in cols],
    )


async def _set_off(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    await _per_assignment(
        conn,
        _first_per(events, _helper_key),
        "on_way_at = COALESCE(on_way_at, u.t)",
        (("t", "timestamptz", _at),),
    )


async def _completed(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    await _per_assignment(
        conn,
        _last_per(events, _helper_key),
        "done_at = u.t, minutes_spent = u.m, minutes_given = u.g",
        (
            ("t", "timestamptz", _at),
            ("m", "int", _body("minutes")),
            ("g", "bool", _body("minutes_given")),
        ),
    )


async def _helpers_updated(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Roster updates (an import brings hundreds): one upsert; per helper the first event's
    community (it inserts the row), the last one's state."""
    rows: dict[str, list[Any]] = {}
    for e in events:
        b = e.body
        if isinstance(b, HelperUpdated):
            row = rows.setdefault(b.helper_id, [e.community_id])
            if row[0] != e.community_id:
                continue  # another community's event for this id: never overwrites the row
            row[1:] = [b.active, e.occurred_at, json.dumps(list(b.teams)), b.away, b.busy]
    await conn.execute(
        """
        INSERT INTO helpers (helper_id, community_id, display_name, profile, active, updated_at,
                             teams, away, busy)
        SELECT h, c, '', '{}'::jsonb, a, t, ARRAY(SELECT jsonb_array_elements_text(g)), w, b
        FROM unnest($1::text[], $2::text[], $3::bool[], $4::timestamptz[], $5::jsonb[],
                    $6::bool[], $7::bool[])
             AS u(h, c, a, t, g, w, b)
        ON CONFLICT (helper_id) DO UPDATE SET active = EXCLUDED.active,
                                              updated_at = EXCLUDED.updated_at,
                                              teams = EXCLUDED.teams,
                                              away = EXCLUDED.away,
                                              busy = EXCLUDED.busy
        -- Helper ids are not per community: a row stays its first community's.
        WHERE helpers.community_id = EXCLUDED.community_id
        """,
        list(rows),
        *map(list, zip(*rows.values(), strict=True)),
    )


WRITERS: dict[str, Run] = {
    **RUNS,
    **TOUCHES,
    "helper_assigned": _assigned,
    "helper_set_off": _set_off,
    "assignment_completed": _completed,
    "helper_updated": _helpers_updated,
    # helper_withdrawn (rare; reads the assignment it releases): per event.
}


# The tables each kind writes. Two kinds that share none commute (last_event_id makes every
# kind that touches `requests` share it). A kind not listed is ordered against all.
_OFFERS, _ASSIGNMENTS, _REQUESTS = "offers", "assignments", "requests"
TABLES: dict[str, frozenset[str]] = {
    "offer_answered": frozenset({_OFFERS}),
    "offer_stood_down": frozenset({_OFFERS, _ASSIGNMENTS}),
    "helper_assigned": frozenset({_OFFERS, _ASSIGNMENTS, "request_private", _REQUESTS}),
    "helper_withdrawn": frozenset({_ASSIGNMENTS, _REQUESTS}),
    "helper_set_off": frozenset({_ASSIGNMENTS}),
    "assignment_completed": frozenset({_ASSIGNMENTS}),
    "helper_updated": frozenset({"helpers"}),
    **{kind: frozenset({_REQUESTS}) for kind in TOUCHES},
}


def _group(kind: str) -> str:
    """The three answer kinds share one writer (status per event), so one step; so do the
    single and the several-at-once stand-downs."""
    if kind == "offers_stood_down":
        return "offer_stood_down"
    return "offer_answered" if kind in ANSWERS else kind


def _ordered(a: str, b: str) -> bool:
    """Must runs of (groups of) kinds a and b of one request keep their order?"""
    ta, tb = TABLES.get(a), TABLES.get(b)
    return a == b or ta is None or tb is None or not ta.isdisjoint(tb)


def steps(events: Sequence[Event]) -> list[tuple[str, list[Event]]]:
    """The batch as steps of one kind each, every request's events in an order equivalent
    to its own (only runs of kinds that commute, `_ordered`, may pass each other).

    A step takes, from every request, each pending run of the step's kind that no earlier
    pending run must precede. The kind is one ready somewhere and blocked nowhere (so it
    needs no second step), else the most common ready kind: typically one step per kind.
    """
    pending: dict[str, list[tuple[str, list[Event]]]] = {}
    for e in events:
        mine, kind = pending.setdefault(e.request_id or "", []), _group(e.body.type)
        if mine and mine[-1][0] == kind:
            mine[-1][1].append(e)
        else:
            mine.append((kind, [e]))
    out: list[tuple[str, list[Event]]] = []
    while pending:
        ready: Counter[str] = Counter()
        blocked: set[str] = set()
        for mine in pending.values():
            for i, (kind, _) in enumerate(mine):
                if any(_ordered(k, kind) for k, _ in mine[:i] if k != kind):
                    blocked.add(kind)
                else:
                    ready[kind] += 1
        kind = next((k for k in ready if k not in blocked), ready.most_common(1)[0][0])
        step: list[Event] = []
        for key, mine in list(pending.items()):
            kept = []
            for k, run in mine:
                if k == kind and not any(_ordered(j, kind) for j, _ in kept):
                    step.extend(run)
                else:
                    kept.append((k, run))
            if kept:
                pending[key] = kept
            else:
                del pending[key]
        out.append((kind, step))
    return out


def _several(e: Event) -> bool:
    """An event that stands down several offers: set-based even alone."""
    return isinstance(e.body, OffersStoodDown) and len(e.body.offers) > 1


async def apply_steps(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    # The log-only kinds (no writer, no handler) would only split other kinds' runs.
    written = [e for e in events if e.body.type in WRITERS or e.body.type in HANDLERS]
    for _, run in steps(written):
        writer = WRITERS.get(run[0].body.type)  # one writer per group
        # A lone event: its plain per-event statements cost PostgreSQL less than the joins
        # over unnest() (measured with small batches, where most steps hold one event).
        if writer is not None and (len(run) > 1 or _several(run[0])):
            await writer(conn, run)
            continue
        for e in run:
            handler = HANDLERS.get(e.body.type)
            if handler is not None:
                await handler(conn, e, e.body.model_dump())
