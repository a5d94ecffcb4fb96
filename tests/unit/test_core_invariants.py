"""Property-based invariants of the core, over random small communities and random
command sequences (accepts, declines, failures, withdrawals, timer ticks, status
changes, cancels, resolves, duplicates)."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.core import DispatchState, apply, decide
from dispatcher.core.community import CommunityPolicy
from dispatcher.core.context import SearchContext
from dispatcher.core.entry import normalise_phone
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    DeactivateHelper,
    DeclineOffer,
    FireDeadline,
    ReportDeliveryFailure,
    ResolveRequest,
    SetHelperStatus,
    SubmitRequest,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.events import Event, HelperAssigned, OfferSent, OffersSent, sent_offers
from schemas.helpers import HelperProfile, TimeWindow
from schemas.places import PlacePath
from schemas.plans import OFFER_RINGS
from schemas.records import OfferStatus, RequestStatus
from schemas.requests import RequesterContact, RequestSpec
from schemas.staff_actions import CallTeam
from schemas.vocab import Category, Party, Ring, Role, Skill, Urgency

from .conftest import COMMUNITY, T0

SKILLS = [Skill.DRIVING, Skill.NURSE, Skill.CARRYING, Skill.FIRST_AID]
NIGHT = TimeWindow.model_validate({"start": "19:00", "end": "07:00"})


TEAMS = ("t1", "t2")
# Quiet hours by day here: the helpers' do-not-disturb (NIGHT) would leave few team leaders
# to call onto a request held at night.
QUIET = CommunityPolicy(quiet_start=time(8), quiet_end=time(18), zone=ZoneInfo("Asia/Shanghai"))


@st.composite
def helpers(draw, n, with_teams=False):
    out = []
    for i in range(n):
        building = draw(st.sampled_from(["1", "2", "3"]))
        compound = draw(st.sampled_from(["tq", "xj"]))
        teams = draw(st.sampled_from([(), ("t1",), ("t2",), TEAMS])) if with_teams else ()
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
                teams=teams,
                leads_teams=tuple(t for t in teams if draw(st.booleans())),
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
# …and teams called by staff, leaders accepting for (named) members, deactivations: one
# list, so each kind is drawn about as often as its share of it; an ending (cancel,
# resolve) rarely, so most runs see several answers to the teams first.
_TEAM_KINDS = (
    *("accept", "decline", "fail", "withdraw", "noshow", "tick", "status", "duplicate"),
    *("accept-any", "deactivate", "call-team", "team-accept", "team-accept", "team-accept"),
)
TEAM_ACTIONS = st.tuples(
    st.sampled_from([*_TEAM_KINDS, *_TEAM_KINDS, "cancel", "resolve"]), st.integers(0, 30)
)


class Run:
    def __init__(self) -> None:
        self.state = DispatchState()
        self.now = T0
        self.n = 0
        self.last: Command | None = None
        self.requester: str | None = None  # the requester's helper id, when one of them

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
        check_nothing_sent_while_held(decision, command, request, self.now)
        check_assigned(decision, self.state)
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


def check_nothing_sent_while_held(decision, command, request, now) -> None:
    """Quiet hours: nobody is asked before the release, whatever answers the team staff
    called (staff's own call excepted), and the ladder stays on its rung."""
    if request is None or request.held_until is None or now >= request.held_until:
        return
    if isinstance(command.body, CallTeam):
        return
    assert not [o for e in decision.events for o in offers_of(e)], "offers sent while held"
    assert not [e for e in decision.events if e.body.type == "ring_escalated"], "climbed held"


def check_assigned(decision, state) -> None:
    """Only active helpers, never the requester (by id or phone), are assigned."""
    for e in decision.events:
        if not isinstance(e.body, HelperAssigned):
            continue
        h = state.helpers[e.body.helper_id]
        assert h.profile.active, "an inactive helper assigned"
        spec = state.requests[e.request_id].spec
        ctx = SearchContext.for_request(state.requests[e.request_id], e.occurred_at)
        assert h.helper_id != spec.requester_helper_id, "the requester assigned"
        phone = normalise_phone(h.profile.phone)
        assert ctx.requester_phone is None or phone != ctx.requester_phone, (
            "the requester assigned (known by phone)"
        )


def check_slots_and_offers(state) -> None:
    for r in state.requests.values():
        needs = r.spec.effective_needs()
        first = 0
        held: list[int] = []
        for i, need in enumerate(needs):
            active = [a for a in r.assignments if a.active and a.need_index == i]
            # A team leader's assignment may hold several slots (`team_slots`).
            slots = [s for a in active for s in (a.slot, *a.team_slots)]
            assert len(slots) == sum(a.slots_held for a in active)
            assert len(slots) <= need.count, "more slots held than the need has"
            assert all(first <= s < first + need.count for s in slots), "a slot of another need"
            held += slots
            first += need.count
        assert len(held) == len(set(held)), "a slot held twice"
        helper_ids = [o.helper_id for o in r.offers]
        assert len(helper_ids) == len(set(helper_ids)), "two offers to one helper"
        if r.terminal:
            assert all(o.status is not OfferStatus.OPEN for o in r.offers)
            assert r.next_deadline is None


def check_no_idle_offer_ring(state, now) -> None:
    """Nobody waits out an offer ring for nothing: an open request on an offer rung has,
    for every unfilled need, an offer still waiting for an answer, or nobody eligible
    left to ask in the whole community; a remote need excepted while another need's
    offers are out (it is searched community-wide again at the next rung)."""
    for r in state.requests.values():
        steps = r.plan.steps
        if r.status is not RequestStatus.OPEN or r.step >= len(steps):
            continue
        if r.held_until is not None:  # quiet hours: the ladder starts at the release
            continue
        if steps[r.step].ring not in OFFER_RINGS:
            continue
        needs = r.spec.effective_needs()
        pending = {i for o in r.offers if o.status is OfferStatus.OPEN for i in o.need_indexes}
        offered = {o.helper_id for o in r.offers}
        ctx = SearchContext.for_request(r, now)
        for i, need in enumerate(needs):
            filled = sum(a.slots_held for a in r.assignments if a.active and a.need_index == i)
            if filled >= need.count or i in pending:
                continue
            if need.remote and pending:
                # The ring waits for another need; this one's search read the whole
                # community and reads it again at the next rung (ladder.starved).
                continue
            left = state.index.search(ctx, need, Ring.COMMUNITY, 1, offered)
            assert not left, f"need {i} idles on {steps[r.step].ring} while {left} could be asked"


# What both property tests draw: the community's size, the request, who asks.
DRAWS = {
    "data": st.data(),
    "n": st.integers(1, 12),
    "urgency": st.sampled_from(list(Urgency)),
    "skills": st.lists(st.sampled_from(SKILLS), max_size=3, unique=True),
    "helpers_needed": st.integers(1, 3),
    "requester": st.one_of(st.none(), st.integers(0, 11)),
    "known_by": st.sampled_from(["id", "phone", "both"]),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**DRAWS, start_hour=st.integers(0, 23))
def test_invariants_hold_for_any_command_sequence(
    data, n, urgency, skills, helpers_needed, requester, known_by, start_hour
):
    run = Run()
    run.now = T0 + timedelta(hours=start_hour)
    for p in data.draw(helpers(n)):
        run.step(run.cmd(UpsertHelper(profile=p)))
    spec = request_spec(urgency, skills, helpers_needed, requester, known_by)
    play(run, data, st.lists(ACTIONS, min_size=8, max_size=30), n, spec)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **DRAWS,
    # Hours 12-21 after T0 (20:00 local) fall in the quiet hours: a chore is held.
    start_hour=st.one_of(st.integers(12, 21), st.integers(0, 23)),
    call_teams=st.booleans(),
)
def test_invariants_hold_with_teams_quiet_hours_and_deactivations(
    data, n, urgency, skills, helpers_needed, requester, known_by, start_hour, call_teams
):
    """The same invariants with what staff and team leaders add: quiet hours (a held
    request sends nothing before its release, whatever answers a team staff called onto
    it), teams called and accepting for named members (the requester among them, or not),
    helpers deactivated while they hold an offer."""
    run = Run()
    run.state.communities = {COMMUNITY: QUIET}
    run.now = T0 + timedelta(hours=start_hour)
    for p in data.draw(helpers(n, with_teams=True)):
        run.step(run.cmd(UpsertHelper(profile=p)))
    # The requester, when there is one, is one of the helpers (a team member, at times).
    requester = None if requester is None else requester % n
    run.requester = None if requester is None else f"h{requester}"
    spec = request_spec(urgency, skills, helpers_needed, requester, known_by)
    # Staff call both teams at once (most of the hold's answers are to them).
    first = [CallTeam(request_id="r", team_id=t, by="li.wei") for t in TEAMS if call_teams]
    play(run, data, st.lists(TEAM_ACTIONS, min_size=8, max_size=40), n, spec, first)


def request_spec(urgency, skills, helpers_needed, requester, known_by) -> RequestSpec:
    """A request from building 1 of `tq`; the requester, when drawn, is one of the
    helpers, known by id, phone or both."""
    by_phone = requester is not None and known_by != "id"
    by_id = requester is not None and known_by != "phone"
    return RequestSpec(
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


def play(run: Run, data, actions, n: int, spec: RequestSpec, first=()) -> None:
    run.step(run.cmd(SubmitRequest(spec=spec)))
    r0 = run.state.requests["r"]
    for body in first:
        run.step(run.cmd(body))
    for kind, k in data.draw(actions):
        if kind == "duplicate":
            if run.last is not None:
                run.step(run.last)
            continue
        body = command_for(run, data, kind, k, n)
        if body is not None:
            run.step(run.cmd(body))
        run.now += timedelta(seconds=data.draw(st.integers(0, 90)))

    # Every request reaches a terminal state within its plan's bound, by timer ticks alone
    # (counted from when it went out: the end of quiet hours for a held one).
    bound = r0.ends_at
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


def command_for(run: Run, data, kind: str, k: int, n: int):
    """The command an action draws, against the request as it is (None: nothing to act on)."""
    r = run.state.requests["r"]
    hid = f"h{k % n}"
    offer = r.offers[k % len(r.offers)] if r.offers else None
    if kind in ("accept", "decline", "fail") and offer is not None:
        cls = {"accept": AcceptOffer, "decline": DeclineOffer, "fail": ReportDeliveryFailure}[kind]
        return cls(request_id="r", offer_id=offer.offer_id, helper_id=offer.helper_id)
    if kind == "accept-any" and offer is not None:  # someone else's offer id
        return AcceptOffer(request_id="r", offer_id=offer.offer_id, helper_id=hid)
    if kind == "team-accept":
        return team_accept(run, data, k)
    if kind in ("withdraw", "noshow") and r.assignments:
        a = r.assignments[k % len(r.assignments)]
        return WithdrawHelper(request_id="r", helper_id=a.helper_id, no_show=kind == "noshow")
    if kind == "tick" and r.next_deadline is not None:
        run.now = max(run.now, r.next_deadline)
        return FireDeadline(request_id="r", step=r.deadline_step)
    if kind == "status":
        return SetHelperStatus(
            helper_id=hid, away=data.draw(st.booleans()), busy=data.draw(st.booleans())
        )
    if kind == "deactivate":
        return DeactivateHelper(helper_id=hid)
    if kind == "call-team":
        return CallTeam(request_id="r", team_id=TEAMS[k % len(TEAMS)], by="li.wei")
    if kind == "cancel":
        return CancelRequest(request_id="r", by=Party.REQUESTER)
    if kind == "resolve":
        return ResolveRequest(request_id="r", by=Party.REQUESTER)
    return None


def team_accept(run: Run, data, k: int) -> AcceptOffer | None:
    """A leader accepting a team offer: naming members of the team (any of them, the
    requester and inactive ones too), or a count without names."""
    r = run.state.requests["r"]
    # Not one accepted already (a second tap changes nothing); a late answer still counts.
    team_offers = [
        o for o in r.offers if o.team_id is not None and o.status is not OfferStatus.ACCEPTED
    ]
    if not team_offers:
        return None
    offer = team_offers[k % len(team_offers)]
    any_member = data.draw(st.booleans())  # else only active ones: more accepts go through
    members = sorted(
        hid
        for hid, h in run.state.helpers.items()
        if hid != offer.helper_id
        and offer.team_id in (*h.profile.teams, *h.profile.leads_teams)
        and (any_member or h.profile.active)
    )
    named = tuple(data.draw(st.lists(st.sampled_from(members), unique=True))) if members else ()
    if run.requester in members and run.requester not in named and data.draw(st.booleans()):
        named = (run.requester, *named)  # the requester, by id or phone, is often named
    count = 1 + len(named) if named else data.draw(st.integers(1, 4))
    return AcceptOffer(
        request_id="r",
        offer_id=offer.offer_id,
        helper_id=offer.helper_id,
        members=count,
        member_ids=named,
    )
