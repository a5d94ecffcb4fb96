"""The discrete-event loop: simulated time, the real core.

One heap of timed happenings (a request arrives, a helper answers, a deadline is due, a
helper withdraws, a requester says "resolved"), popped in (time, sequence) order; each
becomes a command for `dispatcher.core.decide` at that simulated `now`, exactly as the
dispatch agent would send it, and the decision is applied. The events the core emits
are what the metrics count and what schedules the next happenings (an `OfferSent`
schedules that helper's answer by the behaviour model's draws). No Kafka, no clock.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from statistics import NormalDist

from dispatcher.core import DispatchState, apply, decide
from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.draws import Draws, lognormal
from dispatcher.simulate.outcomes import HelperOffers, RequestOutcome, Run, TraceLine
from dispatcher.simulate.world import LOCAL, Arrival
from schemas.commands import (
    AcceptOffer,
    Command,
    CommandBody,
    DeclineOffer,
    FireDeadline,
    ResolveRequest,
    SubmitRequest,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.events import (
    HelperAssigned,
    HelperWithdrawn,
    OfferSent,
    OffersSent,
    ReferredToEmergency,
    WhistleBlown,
    sent_offers,
)
from schemas.helpers import HelperProfile
from schemas.plans import EscalationPlan
from schemas.records import OfferStatus, RequestState, RequestStatus
from schemas.requests import RequestSpec
from schemas.vocab import Party, Role, Urgency

_NORMAL = NormalDist()
STAFF_ROLES = frozenset({Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGEMENT})
WEEK_S = 7 * 24 * 3600.0
PRUNE_EVERY_S = 6 * 3600.0
# Kinds of happenings; the number only breaks no ties (the sequence number does).
SUBMIT, ANSWER, DEADLINE, WITHDRAW, RESOLVE, PRUNE = range(6)
MAX_ANSWER = 0.98  # nobody answers for certain


class Simulation:
    def __init__(
        self,
        *,
        policy: str,
        plans: Mapping[Urgency, EscalationPlan],
        helpers: Sequence[HelperProfile],
        arrivals: Sequence[Arrival],
        behaviour: Behaviour,
        draws: Draws,
        start: datetime,
        days: int,
        trace: bool = False,
    ) -> None:
        self.state = DispatchState(plans=dict(plans))
        self.b = behaviour
        self.draws = draws
        self.start = start
        self.keep_trace = trace
        self._heap: list[tuple[float, int, int, tuple[object, ...]]] = []
        self._seq = 0
        self._commands = 0
        self._deadline: dict[str, tuple[int | None, datetime | None]] = {}
        self._fills: dict[str, int] = {}
        self._busy: set[str] = set()
        self._group_size: dict[str, int] = {}
        for h in helpers:
            self._group_size[h.community_id] = self._group_size.get(h.community_id, 0) + 1
        self._propensity = {
            h.helper_id: lognormal(1.0, behaviour.helper_propensity_sigma, self._z(h.helper_id))
            for h in helpers
        }
        self.run_ = Run(
            policy=policy,
            outcomes={},
            helpers={h.helper_id: HelperOffers() for h in helpers},
            helper_ids=tuple(h.helper_id for h in helpers),
            staff_ids=frozenset(h.helper_id for h in helpers if set(h.roles) & STAFF_ROLES),
            days=days,
        )
        for h in helpers:
            self._decide(UpsertHelper(profile=h), h.community_id, 0.0)
        for a in arrivals:
            self._push((a.at - start).total_seconds(), SUBMIT, (a.spec,))
        self._push(PRUNE_EVERY_S, PRUNE, ())

    def _z(self, helper_id: str) -> float:
        return self.draws.normal("propensity", helper_id)

    # --- the loop ----------------------------------------------------------------------

    def _push(self, t: float, kind: int, payload: tuple[object, ...]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, payload))

    def run(self) -> Run:
        while self._heap:
            t, _, kind, payload = heapq.heappop(self._heap)
            if kind == SUBMIT:
                spec = payload[0]
                assert isinstance(spec, RequestSpec)
                self._decide(SubmitRequest(spec=spec), spec.community_id, t)
            elif kind == ANSWER:
                self._answer(t, *payload)  # type: ignore[arg-type]
            elif kind == DEADLINE:
                self._deadline_due(t, *payload)
            elif kind == WITHDRAW:
                self._withdraw(t, *payload)
            elif kind == RESOLVE:
                self._resolve(t, *payload)
            elif kind == PRUNE:
                self.state.prune(self._at(t))
                if len(self._heap) > 0:
                    self._push(t + PRUNE_EVERY_S, PRUNE, ())
        for r in self.state.requests.values():
            self._finish(r)
        self.run_.commands = self._commands
        return self.run_

    def _at(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def _decide(self, body: CommandBody, community_id: str, t: float) -> None:
        now = self._at(t)
        self._commands += 1
        command = Command(
            command_id=f"sim-cmd-{self._commands}",
            community_id=community_id,
            issued_at=now,
            body=body,
        )
        decision = decide(self.state, command, now)
        apply(self.state, decision)
        if self.keep_trace and not isinstance(body, UpsertHelper):
            rid = body.spec.request_id if isinstance(body, SubmitRequest) else body.request_id  # type: ignore[union-attr]
            said = tuple(
                (e.body.type, getattr(e.body, "helper_id", "") or "") for e in decision.events
            )
            self.run_.trace.append(TraceLine(t, body.type, rid, said))
        for event in decision.events:
            self._on_event(event.request_id, event.body, t)
        for rid, record in decision.requests.items():
            self._after(rid, record, t)

    # --- what the core said ------------------------------------------------------------

    def _on_event(self, rid: str | None, body: object, t: float) -> None:
        if rid is None:
            return
        out = self.run_.outcomes.get(rid)
        if out is None:
            request = self.state.requests[rid]
            out = RequestOutcome(
                request_id=rid,
                urgency=request.spec.urgency,
                slots=request.spec.total_slots(),
                created_s=t,
            )
            self.run_.outcomes[rid] = out
        if isinstance(body, OfferSent | OffersSent):
            for one in sent_offers(body):
                out.offers += 1
                self._offered(rid, one, t)
        elif isinstance(body, HelperAssigned):
            if out.first_accept_s is None:
                out.first_accept_s = t
            self._busy.add(body.helper_id)
            self._after_accept(rid, body.helper_id, t)
        elif isinstance(body, HelperWithdrawn):
            self._busy.discard(body.helper_id)
            if body.no_show:
                out.no_shows += 1
            else:
                out.withdrawals += 1
        elif isinstance(body, WhistleBlown):
            out.whistle = True
        elif isinstance(body, ReferredToEmergency):
            out.emergency_referral = True

    def _after(self, rid: str, r: RequestState, t: float) -> None:
        if r.terminal:
            self._finish(r)
            self._deadline.pop(rid, None)
            return
        key = (r.deadline_step, r.next_deadline)
        if r.next_deadline is not None and self._deadline.get(rid) != key:
            self._deadline[rid] = key
            due = max(t, (r.next_deadline - self.start).total_seconds())
            self._push(due, DEADLINE, (rid, r.deadline_step, r.next_deadline))
        if r.status is RequestStatus.FILLED and self._fills.get(rid, -1) < len(r.assignments):
            # Filled (again): the requester says "resolved" after the service time.
            self._fills[rid] = len(r.assignments)
            z = self.draws.normal("service", rid, len(r.assignments))
            took = lognormal(self.b.service_median_s[r.spec.urgency], 0.6, z)
            self._push(t + took, RESOLVE, (rid, len(r.assignments)))

    def _finish(self, r: RequestState) -> None:
        out = self.run_.outcomes.get(r.request_id)
        if out is None or out.status != "open":
            return
        out.status = r.status.value if r.terminal else "open_at_end"
        out.notified = self._group_size[r.community_id] if out.whistle else out.offers
        out.filled_slots = len({a.slot for a in r.assignments if a.active})
        for a in r.assignments:
            self._busy.discard(a.helper_id)

    # --- helpers' behaviour ------------------------------------------------------------

    def _offered(self, rid: str, offer: OfferSent, t: float) -> None:
        b = self.b
        hid = offer.helper_id
        local = self._at(t) + LOCAL
        night = in_hours(local.hour, b.night_start_hour, b.night_end_hour)
        record = self.run_.helpers.get(hid)
        recent = 0
        if record is not None:
            recent = len(record.times_s) - bisect_left(record.times_s, t - WEEK_S)
            record.times_s.append(t)
            record.night += night
        # A fitted helper's propensity and pace are ratios to the model's per-urgency
        # numbers, so a critical offer is still answered sooner than an errand.
        propensity, pace = b.fitted.get(hid, (self._propensity[hid], 1.0))
        p = b.answer_base[offer.urgency] * propensity * b.ring_answer[offer.ring]
        if night:
            p *= b.night_answer
        elif local.weekday() < 5 and not offer.remote and in_hours(local.hour, *b.work_hours):
            p *= b.work_answer
        fatigue = max(b.fatigue_floor, 1.0 - b.fatigue_per_offer * max(0, recent - b.fatigue_free))
        p *= fatigue
        if hid in self._busy:
            p *= b.busy_answer
        if hid in self.run_.staff_ids:
            p /= fatigue  # on duty: answering is their job, not a favour
        u_answer, u_accept, u_delay = self.draws.uniforms("offer", rid, hid)
        if u_answer >= min(p, MAX_ANSWER):
            return  # no answer: the offer lapses at its expiry
        median = b.median_delay_s[offer.urgency] * pace
        median *= b.ring_delay[offer.ring] * (b.night_delay if night else 1.0)
        delay = lognormal(median, b.delay_sigma, _z(u_delay))
        accept = u_accept < b.accept_given_answer[offer.urgency]
        self._push(t + delay, ANSWER, (rid, offer.offer_id, hid, accept))

    def _after_accept(self, rid: str, hid: str, t: float) -> None:
        u_kind, u_delay = self.draws.uniforms("after-accept", rid, hid, n=2)
        if u_kind >= self.b.no_show_share + self.b.withdraw_share:
            return
        no_show = u_kind < self.b.no_show_share
        delay = lognormal(self.b.withdraw_median_s, 0.8, _z(u_delay))
        self._push(t + delay, WITHDRAW, (rid, hid, no_show))

    # --- happenings that become commands -----------------------------------------------

    def _live(self, rid: str) -> RequestState | None:
        r = self.state.requests.get(rid)
        return None if r is None or r.terminal else r

    def _answer(self, t: float, rid: str, offer_id: str, hid: str, accept: bool) -> None:
        r = self._live(rid)
        if r is None:
            return
        offer = next((o for o in r.offers if o.offer_id == offer_id), None)
        if offer is None or offer.status is not OfferStatus.OPEN:
            return  # stood down or lapsed before they answered
        body: CommandBody
        if accept:
            body = AcceptOffer(request_id=rid, offer_id=offer_id, helper_id=hid)
        else:
            body = DeclineOffer(request_id=rid, offer_id=offer_id, helper_id=hid)
        self._decide(body, r.community_id, t)

    def _deadline_due(self, t: float, rid: str, step: int, due: datetime) -> None:
        r = self._live(rid)
        if r is None or (r.deadline_step, r.next_deadline) != (step, due):
            return  # superseded: the timer would send a command the core ignores
        self._decide(FireDeadline(request_id=rid, step=step), r.community_id, t)

    def _withdraw(self, t: float, rid: str, hid: str, no_show: bool) -> None:
        r = self._live(rid)
        if r is None or not any(a.helper_id == hid and a.active for a in r.assignments):
            return
        self._decide(
            WithdrawHelper(request_id=rid, helper_id=hid, no_show=no_show), r.community_id, t
        )

    def _resolve(self, t: float, rid: str, fills: int) -> None:
        r = self._live(rid)
        if r is None or r.status is not RequestStatus.FILLED or len(r.assignments) != fills:
            return
        self._decide(ResolveRequest(request_id=rid, by=Party.REQUESTER), r.community_id, t)


def in_hours(hour: int, start: int, end: int) -> bool:
    """`start` <= hour < `end`, across midnight when `start` > `end`."""
    if start <= end:
        return start <= hour < end
    return hour >= start or hour < end


def _z(u: float) -> float:
    return _NORMAL.inv_cdf(u)
