"""Property-based invariants of the core, over random small communities and random
command sequences (accepts, declines, failures, withdrawals, timer ticks, status
changes, cancels, resolves, duplicates)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.core import DispatchState, apply, decide
from dispatcher.core.context import SearchContext
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    DeclineOffer,
    FireDeadline,
    ReportDeliveryFailure,
    ResolveRequest,
    SetHelperStatus,
    SubmitRequest,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.events import Event, OfferSent, OffersSent, sent_offers
from schemas.helpers import HelperProfile, TimeWindow
from schemas.places import PlacePath
from schemas.plans import OFFER_RINGS
from schemas.records import OfferStatus, RequestStatus
from schemas.requests import RequesterContact, RequestSpec
from schemas.vocab import Category, Party, Ring, Role, Skill, Urgency

from .conftest import COMMUNITY, T0

SKILLS = [Skill.DRIVING, Skill.NURSE, Skill.CARRYING, Skill.FIRST_AID]
NIGHT = TimeWindow.model_validate({"start": "19:00", "end": "07:00"})


@st.composite
def helpers(draw, n):
    out = []
    for i in range(n):
        building = draw(st.sampled_from(["1", "2", "3"]))
        compound = draw(st.sampled_from(["tq", "xj"]))
        out.append(
            HelperProfile(
                helper_id=f"h{i}",
                phone=f"139{i:08d}",
                place=PlacePath(
                    community_id=COMMUNITY,
                    grid_id="g1" if compound == "tq" else "g2",
                    compound_id=compound,
                    building_id=building,
                    household_id=f"hh{i}",
                ),
                roles=(Role.COMMUNITY_STAFF,)
                if draw(st.integers(0, 5)) == 0
                else (Role.VOLUNTEER,),
                skills=tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True))),
                party_member=draw(st.booleans()),
                paired_household_ids=("hh-req",) if draw(st.integers(0, 4)) == 0 else (),
                do_not_disturb=NIGHT if draw(st.booleans()) else None,
                active=draw(st.integers(0, 9)) > 0,
            )
        )
    return out


# Offer and assignment actions pick among the request's offers / assignments (index k),
# so most generated commands actually hit something.
ACTIONS = st.one_of(
    st.tuples(st.sampled_from(["accept", "accept", "decline", "fail"]), st.integers(0, 30)),
    st.tuples(st.sampled_from(["withdraw", "noshow"]), st.integers(0, 30)),
    st.tuples(st.just("tick"), st.just(0)),
    st.tuples(st.just("status"), st.integers(0, 11)),
    st.tuples(st.just("duplicate"), st.just(0)),
    st.tuples(st.sampled_from(["cancel", "resolve", "accept-any"]), st.integers(0, 30)),
)


class Run:
    def __init__(self) -> None:
        self.state = DispatchState()
        self.now = T0
        self.n = 0
        self.last: Command | None = None

    def cmd(self, body) -> Command:
        self.n += 1
        return Command(
            command_id=f"c{self.n}", community_id=COMMUNITY, issued_at=self.now, body=body
        )

    def step(self, command: Command) -> None:
        before = {hid: h for hid, h in self.state.helpers.items()}
        request = self.state.requests.get("r")
        decision = decide(self.state, command, self.now)
        apply(self.state, decision)
        self.last = command
        check_offers_sent(decision, before, request or self.state.requests.get("r"), self.now)
        check_slots_and_offers(self.state)
        check_no_idle_offer_ring(self.state, self.now)
        # Idempotency: the same command again changes no record and emits nothing new.
        again = decide(self.state, command, self.now)
        assert not again.requests and not again.helpers
        assert {e.event_id for e in again.events} <= {e.event_id for e in decision.events}


def offers_of(e: Event) -> list[OfferSent]:
    return sent_offers(e.body) if isinstance(e.body, OfferSent | OffersSent) else []


def check_offers_sent(decision, helpers_before, request, now) -> None:
    if request is None:
        return
    spec = request.spec
    for one in (o for e in decision.events for o in offers_of(e)):
        h = helpers_before[one.helper_id]
        assert h.helper_id != spec.requester_helper_id, "offered to the requester"
        if spec.contact.phone is not None:
            digits = spec.contact.phone.replace("+86 ", "").replace("-", "")
            assert h.profile.phone != digits, "offered to the requester (known by phone)"
        assert h.profile.active and not h.away and not h.busy, "offered to an unavailable helper"
        local = (now + timedelta(hours=8)).time()
        if request.plan.respect_do_not_disturb and h.profile.do_not_disturb is not None:
            assert not h.profile.do_not_disturb.contains(local), "offered during do-not-disturb"


def check_slots_and_offers(state) -> None:
    for r in state.requests.values():
        needs = r.spec.effective_needs()
        for i, need in enumerate(needs):
            active = [a for a in r.assignments if a.active and a.need_index == i]
            assert len(active) <= need.count, "more assignments than slots"
        assert len({a.slot for a in r.assignments if a.active}) == len(
            [a for a in r.assignments if a.active]
        )
        helper_ids = [o.helper_id for o in r.offers]
        assert len(helper_ids) == len(set(helper_ids)), "two offers to one helper"
        if r.terminal:
            assert all(o.status is not OfferStatus.OPEN for o in r.offers)
            assert r.next_deadline is None


def check_no_idle_offer_ring(state, now) -> None:
    """Nobody waits out an offer ring for nothing: an open request on an offer rung has,
    for every unfilled need, an offer still waiting for an answer, or nobody eligible
    left to ask in the whole community."""
    for r in state.requests.values():
        steps = r.plan.steps
        if r.status is not RequestStatus.OPEN or r.step >= len(steps):
            continue
        if steps[r.step].ring not in OFFER_RINGS:
            continue
        needs = r.spec.effective_needs()
        pending = {i for o in r.offers if o.status is OfferStatus.OPEN for i in o.need_indexes}
        offered = {o.helper_id for o in r.offers}
        ctx = SearchContext.for_request(r, now)
        for i, need in enumerate(needs):
            filled = sum(1 for a in r.assignments if a.active and a.need_index == i)
            if filled >= need.count or i in pending:
                continue
            left = state.index.search(ctx, need, Ring.COMMUNITY, 1, offered)
            assert not left, f"need {i} idles on {steps[r.step].ring} while {left} could be asked"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(1, 12),
    urgency=st.sampled_from(list(Urgency)),
    skills=st.lists(st.sampled_from(SKILLS), max_size=3, unique=True),
    helpers_needed=st.integers(1, 3),
    requester=st.one_of(st.none(), st.integers(0, 11)),
    known_by=st.sampled_from(["id", "phone", "both"]),
    start_hour=st.integers(0, 23),
)
def test_invariants_hold_for_any_command_sequence(
    data, n, urgency, skills, helpers_needed, requester, known_by, start_hour
):
    by_phone = requester is not None and known_by != "id"
    by_id = requester is not None and known_by != "phone"
    run = Run()
    run.now = T0 + timedelta(hours=start_hour)
    profiles = data.draw(helpers(n))
    for p in profiles:
        run.step(run.cmd(UpsertHelper(profile=p)))
    spec = RequestSpec(
        request_id="r",
        community_id=COMMUNITY,
        place=PlacePath(
            community_id=COMMUNITY,
            grid_id="g1",
            compound_id="tq",
            building_id="1",
            household_id="hh-req",
        ),
        category=Category.HOSPITAL_TRANSPORT,
        urgency=urgency,
        skills=tuple(skills),
        helpers_needed=helpers_needed,
        contact=RequesterContact(phone=f"+86 139-{requester:08d}" if by_phone else None),
        requester_helper_id=f"h{requester}" if by_id else None,
    )
    run.step(run.cmd(SubmitRequest(spec=spec)))
    r0 = run.state.requests["r"]

    for kind, k in data.draw(st.lists(ACTIONS, min_size=8, max_size=30)):
        r = run.state.requests["r"]
        hid = f"h{k % n}"
        offer = r.offers[k % len(r.offers)] if r.offers else None
        body = None
        if kind in ("accept", "decline", "fail") and offer is not None:
            cls = {"accept": AcceptOffer, "decline": DeclineOffer, "fail": ReportDeliveryFailure}[
                kind
            ]
            body = cls(request_id="r", offer_id=offer.offer_id, helper_id=offer.helper_id)
        elif kind == "accept-any" and offer is not None:  # someone else's offer id
            body = AcceptOffer(request_id="r", offer_id=offer.offer_id, helper_id=hid)
        elif kind in ("withdraw", "noshow") and r.assignments:
            a = r.assignments[k % len(r.assignments)]
            body = WithdrawHelper(request_id="r", helper_id=a.helper_id, no_show=kind == "noshow")
        elif kind == "tick" and r.next_deadline is not None:
            run.now = max(run.now, r.next_deadline)
            body = FireDeadline(request_id="r", step=r.deadline_step)
        elif kind == "status":
            body = SetHelperStatus(
                helper_id=hid, away=data.draw(st.booleans()), busy=data.draw(st.booleans())
            )
        elif kind == "cancel":
            body = CancelRequest(request_id="r", by=Party.REQUESTER)
        elif kind == "resolve":
            body = ResolveRequest(request_id="r", by=Party.REQUESTER)
        elif kind == "duplicate" and run.last is not None:
            run.step(run.last)
            continue
        if body is not None:
            run.step(run.cmd(body))
        run.now += timedelta(seconds=data.draw(st.integers(0, 90)))

    # Every request reaches a terminal state within its plan's bound, by timer ticks alone.
    bound = r0.created_at + timedelta(seconds=r0.plan.lifetime_s)
    for _ in range(len(r0.plan.steps) + 200):
        r = run.state.requests["r"]
        if r.terminal:
            break
        assert r.next_deadline is not None and r.next_deadline <= bound
        run.now = max(run.now, r.next_deadline)
        run.step(run.cmd(FireDeadline(request_id="r", step=r.deadline_step)))
    r = run.state.requests["r"]
    assert r.terminal
    assert r.closed_at is not None and r.closed_at <= bound
