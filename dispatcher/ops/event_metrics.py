"""Turn the core's events into Prometheus counters and histograms.

Durations come from the events' own `occurred_at`, so the figures are the same wherever
and whenever the events are observed (dispatch agent, record agent, a replay). Memory is
bounded: a few thousand open requests and offers (with those ended unaccepted, until their
request closes), forgotten oldest-first; an event whose request is no longer remembered
still counts, it just adds no duration.

A process started after a request opened (a restart, or a rebalance moving its partition
here) never saw the opening: the record agent asks `unknown_requests` which of a batch's
requests it needs, reads them from PostgreSQL and `seed`s them before observing the batch, so
their close keeps its urgency and their first offer and accept are counted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from dispatcher.ops.metric_defs import UNKNOWN, DispatchMetrics
from dispatcher.record.outcomes import closing_outcome
from schemas.events import Event, stand_downs

K = TypeVar("K")
V = TypeVar("V")

__all__ = ["UNKNOWN", "BoundedMap", "EventMetrics", "RequestSeed"]

# The events whose figures need their request (its urgency, category, opening, first offer).
NEEDS_REQUEST = frozenset(
    {
        "offer_sent",
        "offers_sent",
        "helper_assigned",
        "ring_escalated",
        "request_resolved",
        "request_cancelled",
        "request_referred",
        "request_expired",
    }
)


class BoundedMap(Generic[K, V]):
    """An insertion-ordered map that drops its oldest entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class _Open:
    opened_at: datetime
    category: str
    urgency: str
    offered: bool = False
    answered: bool = False
    held: bool = False  # held for the community's quiet hours
    released_at: datetime | None = None  # the first release of that hold
    first_offer_at: datetime | None = None

    def asked_from(self, at: datetime) -> datetime:
        """Since when neighbours could have answered, for an answer at `at`: the opening;
        for a held request its release (nobody was asked before it), or its first offer
        when a team staff called during the hold answered before any release. The read
        model's rule (`dispatcher/record/read/dashboard.py` `ASKED_FROM`): the dashboard,
        the month report and these histograms agree."""
        if not self.held:
            return self.opened_at
        if self.released_at is not None and at >= self.released_at:
            return self.released_at
        return self.first_offer_at or self.opened_at


@dataclass(frozen=True)
class RequestSeed:
    """A request as recorded before the batch being observed (PostgreSQL's `requests`)."""

    request_id: str
    category: str
    urgency: str
    opened_at: datetime
    offered: bool  # a first offer already recorded
    answered: bool  # a first accept already recorded
    held: bool = False  # held for quiet hours (now or before)
    released_at: datetime | None = None
    first_offer_at: datetime | None = None


class EventMetrics:
    """`observe(event)` for every event the core emitted; idempotent per event id."""

    def __init__(
        self,
        metrics: DispatchMetrics,
        *,
        max_requests: int = 20_000,
        max_offers: int = 100_000,
        max_seen: int = 200_000,
    ) -> None:
        self.m = metrics
        self._requests: BoundedMap[str, _Open] = BoundedMap(max_requests)
        self._offer_rings: BoundedMap[str, str] = BoundedMap(max_offers)
        # Offers answered without an accept (expired, declined, failed, stood down): their
        # link works until the request's end and a late accept fills a free slot
        # (`core/request_commands.py`): it counts under their ring as `accepted_late`, not a
        # second end. Forgotten when their request closes (`_answered_by_request`).
        self._answered_rings: BoundedMap[str, str] = BoundedMap(max_offers)
        self._answered_by_request: BoundedMap[str, list[str]] = BoundedMap(max_requests)
        # At-least-once delivery replays events after a crash: count each id once.
        self._seen: BoundedMap[str, None] = BoundedMap(max_seen)
        # Closed here, or looked up and not recorded: not asked for again.
        self._settled: BoundedMap[str, None] = BoundedMap(max_requests)

    def unknown_requests(self, events: Iterable[Event]) -> set[str]:
        """The requests `events` need that this process neither remembers nor sees opened
        among them (none in the steady state: a few set lookups per event)."""
        known, requests, settled, seen = set(), self._requests, self._settled, self._seen
        unknown: set[str] = set()
        for event in events:
            rid = event.request_id
            if not rid or rid in known:
                continue
            kind = event.body.type
            if kind == "request_opened" or rid in requests or rid in settled:
                known.add(rid)
            elif kind in NEEDS_REQUEST and event.event_id not in seen:
                unknown.add(rid)
        return unknown

    def seed(self, seeds: Iterable[RequestSeed], asked: Iterable[str] = ()) -> None:
        """Remember requests opened before this process saw them; `asked`: the ids looked
        up, those without a seed are not asked for again."""
        for s in seeds:
            if s.request_id not in self._requests:
                opened = _Open(
                    s.opened_at,
                    s.category,
                    s.urgency,
                    s.offered,
                    s.answered,
                    s.held,
                    s.released_at,
                    s.first_offer_at,
                )
                self._requests.put(s.request_id, opened)
        for rid in asked:
            if rid not in self._requests:
                self._settled.put(rid, None)

    def observe_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.observe(event)

    def observe(self, event: Event) -> None:
        if event.event_id in self._seen:
            return
        self._seen.put(event.event_id, None)
        body = event.body
        rid = event.request_id or ""
        req = self._requests.get(rid)
        urgency = req.urgency if req else UNKNOWN
        m = self.m
        match body.type:
            case "request_opened":
                self._requests.put(
                    rid, _Open(event.occurred_at, str(body.category), str(body.urgency))
                )
                m.requests_opened.labels(str(body.category), str(body.urgency)).inc()
            case "offer_sent" | "offers_sent":
                # Counted per ring, not per offer: a labelled child's lookup costs more than
                # the rest of an offer's accounting, and a wave is mostly of one ring. The
                # wave's own `WaveOffer`s are read (id and ring are on both forms).
                rings: dict[str, int] = {}
                for offer in body.offers if body.type == "offers_sent" else (body,):
                    ring = str(offer.ring)
                    self._offer_rings.put(offer.offer_id, ring)
                    rings[ring] = rings.get(ring, 0) + 1
                for ring, count in rings.items():
                    m.offers_sent.labels(ring, str(body.urgency)).inc(count)
                if req and not req.offered:
                    req.offered = True
                    # A held request's first offer (after its release) from the release:
                    # the night it waited on purpose is not a slow dispatch. (One a team
                    # staff called during the hold got counts from the opening.)
                    m.time_to_first_offer.labels(req.urgency).observe(
                        _seconds(req.asked_from(event.occurred_at), event.occurred_at)
                    )
                    req.first_offer_at = event.occurred_at
            case "helper_assigned":
                self._answer(rid, body.offer_id, "accepted")
                if req and not req.answered:
                    req.answered = True
                    m.requests_answered.labels(req.category, req.urgency).inc()
                    m.time_to_first_accept.labels(req.urgency).observe(
                        _seconds(req.asked_from(event.occurred_at), event.occurred_at)
                    )
            case "request_held":
                if req:
                    req.held = True
            case "request_released":
                if req:
                    req.held = True
                    if req.released_at is None:
                        req.released_at = event.occurred_at
            case "offer_declined":
                # A no after a covered stand-down: the offer's answer was that stand-down.
                if not body.after_stand_down:
                    self._answer(rid, body.offer_id, "declined")
            case "offer_expired":
                self._answer(rid, body.offer_id, "expired")
            case "offer_failed":
                self._answer(rid, body.offer_id, "failed")
            case "offer_stood_down" | "offers_stood_down":
                for one in stand_downs(body):
                    if not one.was_assigned:  # an assignment released is not an offer's answer
                        self._answer(rid, one.offer_id, "stood_down")
            case "ring_escalated":
                m.escalations.labels(str(body.to_ring), urgency).inc()
            case "whistle_blown":
                m.whistles.labels(str(body.urgency)).inc()
            case "emergency_call_advised":
                m.emergency_calls_advised.labels(str(body.number)).inc()
            case "referred_to_emergency":
                m.emergency_referrals_advised.labels(str(body.to)).inc()
            case "helper_withdrawn":
                m.helpers_withdrawn.labels(str(body.no_show).lower()).inc()
            case "command_rejected":
                m.commands_rejected.labels(body.command_type, body.reason).inc()
            case "request_resolved" | "request_cancelled" | "request_referred" | "request_expired":
                status = body.type.removeprefix("request_")
                # A resolution by the system (lifetime over, nobody said done): "ended".
                outcome = closing_outcome(status, getattr(body, "by", None))
                m.requests_closed.labels(outcome, urgency).inc()
                self._requests.pop(rid)
                self._settled.put(rid, None)
                for offer_id in self._answered_by_request.pop(rid) or ():
                    self._answered_rings.pop(offer_id)  # no late accept after the close
            case _:
                pass  # helper_updated: roster changes are not dispatch metrics

    def _answer(self, rid: str, offer_id: str, answer: str) -> None:
        """Each offer sent ends once in `offer_answers`; a late accept of one that ended
        unaccepted is `accepted_late` (a counter cannot take its first end back)."""
        ring = self._offer_rings.pop(offer_id)
        ended = self._answered_rings.pop(offer_id)
        if ring is None and ended is not None and answer == "accepted":
            ring, answer = ended, "accepted_late"
        elif ring is not None and answer != "accepted":
            self._answered_rings.put(offer_id, ring)
            kept = self._answered_by_request.get(rid)
            if kept is None:
                self._answered_by_request.put(rid, [offer_id])
            else:
                kept.append(offer_id)
        self.m.offer_answers.labels(ring or UNKNOWN, answer).inc()

    @property
    def remembered_requests(self) -> int:
        return len(self._requests)

    @property
    def remembered_offers(self) -> int:
        """Offers whose ring is kept: open, or ended unaccepted on a request still open."""
        return len(self._offer_rings) + len(self._answered_rings)


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())
