"""An open request nobody answered never ends by its lifetime before staff on duty and the
group (the whistle) were called, however late its deadline is decided (session 37 audit).

After a worker outage longer than a request's remaining lifetime, the restarted timer
replays each overdue deadline at its own due time (`deadline_command(issued_at=due_at)`):
the ladder reaches the whistle before the end. But a command queued during the outage (a
decline, a claim) and decided before the timer's first tick stores the request with its
overdue deadline moved to the command's own time (`RequestDraft.freeze`: never a deadline
before the command that computed it); the heap drops the overdue item as out of date, and
the one deadline left fires after `ends_at`, where `deadline()` used to end the request at
once: expired, `whistle_blown` False, staff never called.

Now, decided at or after its end with the whistle not blown, an open request with nobody
assigned climbs to the whistle instead (`ladder.whistle_at_the_end`), and a whistle blown
at or after the end gives staff its own wait (and the rungs after it theirs) before the
request ends (`ladder._whistle_rung` moves `ends_at`, once)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dispatcher.core import Decision, DispatchState
from dispatcher.core.deadlines import DeadlineHeap
from schemas.commands import (
    Command,
    CommandBody,
    DeclineOffer,
    ReportDeliveryFailure,
    deadline_command,
)
from schemas.plans import PLAN_SETS, EscalationPlan, LadderStep
from schemas.records import OfferStatus, RequestStatus
from schemas.staff_actions import ClaimRequest
from schemas.vocab import Ring, Role, Skill, Urgency
from tests.unit.conftest import COMMUNITY, T0, World
from tests.unit.test_core_community_settings import quiet

URGENT_END = T0 + timedelta(hours=6)  # the reference plan's urgent lifetime
BACK = URGENT_END + timedelta(seconds=2)  # the worker back after a 6 h outage
WHISTLE_WAIT = timedelta(seconds=1800)  # the reference urgent plan's whistle rung


class Worker(World):
    """The worker's way of deciding: each decision's deadlines go onto the real heap; the
    timer pops due items at wall time and sends each as its deadline command, decided at
    `min(issued_at, wall)` (streams/dispatch_agent.py `_now`)."""

    def __init__(self) -> None:
        super().__init__()
        self.heap = DeadlineHeap()

    def run(self, body: CommandBody | Command, command_id: str | None = None) -> Decision:
        decision = super().run(body, command_id)
        self.heap.note(decision.requests.values())
        return decision

    def timer(self, wall: datetime) -> list[Decision]:
        decisions = []
        for item in self.heap.pop_due(wall, self.state.requests):
            command = deadline_command(
                request_id=item.request_id,
                community_id=item.community_id,
                step=item.step,
                due_at=item.due_at,
            )
            self.now = min(command.issued_at, wall)
            decisions.append(self.run(command))
        self.now = max(self.now, wall)
        return decisions

    def drain(self, wall: datetime) -> list[Decision]:
        """The timer alone until every request has ended, the wall clock moving on to the
        next item each time."""
        decisions: list[Decision] = []
        for _ in range(200):
            if all(r.terminal for r in self.state.requests.values()):
                return decisions
            assert self.heap.items, "an open request with nothing on the timer"
            wall = max(wall, min(it.fire_at for it in self.heap.items))
            decisions += self.timer(wall)
        raise AssertionError("never ended")


def _community(neighbours: int = 2, plans: str | None = None) -> Worker:
    w = Worker()
    if plans is not None:  # the configured plans (tuned), not the tests' reference ones
        w.state = DispatchState(plans=PLAN_SETS[plans])
    for i in range(neighbours):  # in the requester's building: its rung offers them
        w.helper(f"v{i}", building="3", skills=[Skill.DRIVING])
    w.helper("staff", building="8", roles=[Role.COMMUNITY_STAFF])  # drives nobody
    return w


def _urgent(w: Worker, **kw: object) -> None:
    w.submit(urgency=Urgency.URGENT, **kw)
    r = w.request()
    assert r.ends_at == URGENT_END and r.offers and not r.whistle_blown


def _staff_offered(w: Worker) -> bool:
    return any(o.helper_id == "staff" for o in w.request().offers)


def _whistles(decisions: list[Decision]) -> int:
    return sum(1 for d in decisions for e in d.events if e.body.type == "whistle_blown")


def test_the_timer_alone_replays_the_whistle_before_the_end() -> None:
    # The control: catch-up decides each overdue deadline at its own time.
    w = _community()
    _urgent(w)
    w.now = BACK
    w.drain(BACK)
    r = w.request()
    assert r.status is RequestStatus.EXPIRED and r.whistle_blown and _staff_offered(w)
    # Replayed on time: the ladder ran out (51 min in) long before the end, never moved.
    assert r.ends_at == URGENT_END and r.closed_at is not None and r.closed_at < URGENT_END


def test_a_decline_decided_after_the_end_does_not_skip_the_whistle() -> None:
    w = _community()
    _urgent(w)
    w.now = BACK  # queued during the outage, decided before the timer's first tick
    w.decline("v0")
    assert w.request().next_deadline == BACK  # the overdue deadline, moved to now
    first = w.timer(BACK)
    assert _whistles(first) == 1, "staff and the group are called at the late deadline"
    r = w.request()
    assert r.status is RequestStatus.OPEN and r.whistle_blown and _staff_offered(w)
    assert r.ends_at == BACK + WHISTLE_WAIT  # the whistle's own wait, from now
    w.drain(BACK)
    r = w.request()
    assert r.status is RequestStatus.EXPIRED
    assert r.closed_at == BACK + WHISTLE_WAIT


def test_a_decline_that_leaves_nobody_after_the_end_whistles_with_its_wait() -> None:
    # The last neighbour declines after the end: the ladder climbs in the decline's own
    # decision (nobody left to wait for); the whistle still gets its wait, not a request
    # that ends at the next tick.
    w = _community(neighbours=1)
    _urgent(w)
    w.now = BACK
    d = w.decline("v0")
    assert w.of_type("whistle_blown", d)
    r = w.request()
    assert r.status is RequestStatus.OPEN and r.ends_at == BACK + WHISTLE_WAIT
    w.drain(BACK)
    assert w.request().status is RequestStatus.EXPIRED
    assert w.request().closed_at == BACK + WHISTLE_WAIT


def test_a_held_request_decided_after_its_end_is_released_to_the_whistle() -> None:
    # Submitted in quiet hours (20:00 in Xiamen, held until 07:00), its whole lifetime
    # passed in an outage; a staff claim queued meanwhile is decided first.
    w = _community()
    w.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    w.submit(urgency=Urgency.NORMAL, category="errand", skills=())
    held = w.request()
    assert held.held_until is not None and not held.offers
    back = held.ends_at + timedelta(minutes=5)
    w.now = back
    w.run(ClaimRequest(request_id="req-1", by="li.wei"))
    decisions = w.timer(back)
    assert any(e.body.type == "request_released" for d in decisions for e in d.events)
    r = w.request()
    # Up to the whistle rung, with its wait; claimed, it calls nobody (session 38: staff
    # hold the request, `ladder.calls_staff`), so no `whistle_blown` event.
    assert r.step == len(r.plan.steps) - 1 and r.whistle_blown
    assert _whistles(decisions) == 0
    whistle_wait = timedelta(seconds=r.plan.steps[-1].wait_s)
    assert r.status is RequestStatus.OPEN and r.ends_at == back + whistle_wait
    w.drain(back)
    assert w.request().status is RequestStatus.EXPIRED and w.request().whistle_blown


def test_a_request_with_a_helper_assigned_still_closes_at_its_end() -> None:
    # Partly answered (one of two slots): at the end it closes as resolved for its helper,
    # as before; the late path does not reopen the ladder.
    w = _community(neighbours=3)
    _urgent(w, helpers_needed=2)
    w.accept("v0")
    w.now = BACK
    w.decline("v1")
    w.drain(BACK)
    r = w.request()
    assert r.status is RequestStatus.RESOLVED and r.ends_at == URGENT_END
    assert r.closed_at == BACK


def test_a_plan_without_a_whistle_expires_at_its_end_as_before() -> None:
    w = _community()
    plan = EscalationPlan(
        urgency=Urgency.URGENT,
        steps=(LadderStep(ring=Ring.BUILDING, wave_size=2, wait_s=600),),
        offer_ttl_s=600,
        lifetime_s=3600,
    )
    w.state.plans = {**w.state.plans, Urgency.URGENT: plan}
    w.submit(urgency=Urgency.URGENT)
    back = T0 + timedelta(hours=2)
    w.now = back
    w.decline("v0")
    w.drain(back)
    r = w.request()
    assert r.status is RequestStatus.EXPIRED and not r.whistle_blown
    assert r.closed_at == back and r.ends_at == T0 + timedelta(hours=1)


def _late_command(w: Worker, kind: str) -> None:
    r = w.request()
    waiting = [o for o in r.offers if o.status is OfferStatus.OPEN]
    if kind == "claim":
        w.run(ClaimRequest(request_id="req-1", by="li.wei"))
    elif waiting and kind == "decline":
        w.run(
            DeclineOffer(
                request_id="req-1", offer_id=waiting[0].offer_id, helper_id=waiting[0].helper_id
            )
        )
    elif waiting and kind == "failed":
        w.run(
            ReportDeliveryFailure(
                request_id="req-1",
                offer_id=waiting[0].offer_id,
                helper_id=waiting[0].helper_id,
                reason="unreachable",
            )
        )


@settings(
    derandomize=True,
    database=None,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    plans=st.sampled_from(sorted(PLAN_SETS)),
    urgency=st.sampled_from(list(Urgency)),
    neighbours=st.integers(0, 3),
    held=st.booleans(),
    # In lifetimes; half of them past the end, where the late path is.
    outage=st.one_of(st.floats(0, 1), st.floats(1, 1.3)),
    kind=st.sampled_from(["none", "decline", "failed", "claim"]),
)
def test_no_request_ends_unseen_whatever_the_outage(
    plans: str, urgency: Urgency, neighbours: int, held: bool, outage: float, kind: str
) -> None:
    """Any outage (up to 1.3 lifetimes), any command decided before the timer's first
    tick: a request that expires had its whistle blown, and every request still ends."""
    w = _community(neighbours, plans)
    if held:
        w.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    w.submit(urgency=urgency)
    first_end = w.request().ends_at
    back = w.now + (first_end - T0) * outage
    w.now = back
    if kind != "none" and not w.request().terminal:
        _late_command(w, kind)
    w.drain(back)
    r = w.request()
    # Closed by its end, or when first decided after it (the outage).
    assert r.terminal and r.closed_at is not None and r.closed_at <= max(r.ends_at, back)
    if r.status is RequestStatus.EXPIRED:
        assert r.whistle_blown, f"expired unseen on step {r.step} of {len(r.plan.steps)}"
    if r.ends_at != first_end:  # moved only later, for a whistle blown too late for its wait,
        assert r.whistle_blown and r.ends_at > first_end
        assert r.closed_at == r.ends_at  # and the request waited that long for staff
    event(f"{r.status.value}, end moved: {r.ends_at != first_end}")
