"""A reopened request reaches staff on duty and the group (the whistle) before it expires.

Every plan ends with the whistle (schemas/plans.py): a request nobody answered must reach a
person, never expire unseen. A withdrawal or no-show ("去不了了") late in the lifetime used
to give the current neighbours' rung its full wait again, and later rungs theirs: a low
request withdrawn at +2 days 15:00 waited on the compound, then the community, and expired
at +3 days on step 2 of 4, staff never offered. Now, while the rungs left no longer fit
before the end of the lifetime, the ladder climbs on, up to the whistle
(`ladder.climb_if_late`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.core import DispatchState
from dispatcher.core.ladder import whistle_step
from schemas.commands import AcceptOffer, WithdrawHelper
from schemas.plans import DEFAULT_PLANS, PLAN_SETS
from schemas.records import OfferStatus, RequestStatus
from schemas.staff_actions import CallTeam
from schemas.vocab import Role, Skill, Urgency
from tests.unit.conftest import COMMUNITY, T0, World
from tests.unit.test_core_community_settings import chore, quiet
from tests.unit.test_core_party_teams import person


def _community(plans: str = "standard", volunteers: int = 2) -> World:
    w = World()
    w.state = DispatchState(plans=PLAN_SETS[plans])
    for i in range(volunteers):  # in the requester's building (3) and the next one
        w.helper(f"v{i}", building=str(3 - i % 2), skills=[Skill.DRIVING])
    w.helper("staff", building="8", roles=[Role.COMMUNITY_STAFF])
    return w


def _run_out(w: World) -> None:
    """Fire every deadline on time until the request ends."""
    while not w.request().terminal:
        w.tick()


def _staff_offered(w: World) -> bool:
    return any(o.helper_id == "staff" for o in w.request().offers)


def test_a_low_request_withdrawn_late_reaches_staff_before_it_expires() -> None:
    w = _community()
    w.submit(urgency=Urgency.LOW)
    w.accept(w.request().offers[0].helper_id)
    first_end = w.request().ends_at
    w.now = blown_at = first_end - timedelta(hours=9)  # the compound and community wait 28 h
    d = w.run(WithdrawHelper(request_id="req-1", helper_id=w.request().assignments[0].helper_id))
    assert w.of_type("whistle_blown", d), "the whistle goes out on the withdrawal"
    _run_out(w)
    r = w.request()
    assert r.status is RequestStatus.EXPIRED
    assert r.whistle_blown and _staff_offered(w)
    # Staff get the whistle's own wait (and the rungs after it theirs), not the 9 h left of
    # the lifetime (session 37: a whistle with a minute left reached staff too late to act).
    wait = timedelta(seconds=sum(s.wait_s for s in r.plan.steps[whistle_step(r.plan) :]))
    assert wait > first_end - blown_at
    assert r.ends_at == r.closed_at == blown_at + wait


def test_a_withdrawal_with_time_left_still_waits_the_rung() -> None:
    # Early in the lifetime the rest of the ladder fits: the rung's wait restarts, as before
    # (the requester's building has another neighbour to ask).
    w = _community()
    for hid in ("b1", "b2"):
        w.helper(hid, building="3", skills=[Skill.DRIVING])
    w.submit(urgency=Urgency.LOW)
    w.accept(w.request().offers[0].helper_id)
    w.later(3600)
    d = w.run(WithdrawHelper(request_id="req-1", helper_id=w.request().assignments[0].helper_id))
    assert not w.of_type("whistle_blown", d) and not w.of_type("ring_escalated", d)
    assert w.offered(d) and w.request().step_started_at == w.now


def test_a_request_reopened_while_held_and_released_late_reaches_staff() -> None:
    # Filled while held for quiet hours by a called team; the leader withdraws near the end
    # of the lifetime: the release starts the ladder from its first rung, which no longer
    # fits.
    w = World()
    w.state.plans = DEFAULT_PLANS
    person(w, "leader", building="9", leads_teams=("T",))
    person(w, "member", building="9", teams=("T",))
    w.helper("n1", building="3")
    w.helper("staff", building="8", roles=[Role.COMMUNITY_STAFF])
    w.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(w, helpers_needed=2)
    w.run(CallTeam(request_id="req-1", team_id="T", by="li.wei"))
    w.run(
        AcceptOffer(
            request_id="req-1", offer_id=w.offer_id("leader"), helper_id="leader", members=2
        )
    )
    assert w.request().status is RequestStatus.FILLED and w.request().held_until is not None
    w.now = w.request().ends_at - timedelta(hours=2)
    w.run(WithdrawHelper(request_id="req-1", helper_id="leader"))
    _run_out(w)
    assert w.request().status is RequestStatus.EXPIRED
    assert w.request().whistle_blown and _staff_offered(w)


@settings(
    derandomize=True,
    database=None,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    plans=st.sampled_from(sorted(PLAN_SETS)),
    urgency=st.sampled_from(list(Urgency)),
    volunteers=st.integers(1, 4),
    accept_after_s=st.integers(0, 900),
    withdraw_at=st.floats(0, 1),
    no_show=st.booleans(),
)
def test_no_open_request_expires_without_the_whistle(
    plans: str,
    urgency: Urgency,
    volunteers: int,
    accept_after_s: int,
    withdraw_at: float,
    no_show: bool,
) -> None:
    w = _community(plans, volunteers)
    w.submit(urgency=urgency)
    accept_at = T0 + timedelta(seconds=accept_after_s)
    _tick_until(w, accept_at)
    r = w.request()
    waiting = [o for o in r.offers if o.status is OfferStatus.OPEN and o.helper_id != "staff"]
    if r.terminal or not waiting:
        return
    w.now = max(w.now, accept_at)
    w.accept(waiting[0].helper_id)
    if w.request().status is not RequestStatus.FILLED:
        return
    withdraw = w.now + (r.ends_at - w.now) * withdraw_at
    _tick_until(w, withdraw)
    if w.request().terminal:
        return
    w.now = max(w.now, withdraw)
    w.run(WithdrawHelper(request_id="req-1", helper_id=waiting[0].helper_id, no_show=no_show))
    _run_out(w)
    r = w.request()
    if r.status is RequestStatus.EXPIRED:
        assert r.whistle_blown, (
            f"{plans}/{urgency.value}: withdrawn at +{withdraw - T0}, expired on step "
            f"{r.step} of {len(r.plan.steps)} without the whistle"
        )


def _tick_until(w: World, until: datetime) -> None:
    """Fire every deadline due by `until`, on time."""
    while not w.request().terminal:
        due = w.request().next_deadline
        assert due is not None
        if due > until:
            return
        w.tick()
