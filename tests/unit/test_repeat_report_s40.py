"""The same incident reported again while nobody has accepted it climbs to the whistle
(session 40 audit). Before, the API merged the second report ("还是没人来…") into the open
request and sent nothing: the ladder waited out its neighbours' rung, though in a thin
circle the repeat comes precisely because nobody came. Now the API sends `ReportRepeated`
and the core (`dispatcher/core/repeat_reports.py`) climbs to the whistle - staff on duty
offered, the whistle list and the group told - once the first neighbours asked have had
their rung's full wait (a life-threatening request: at once), once per request: a repeat
inside that time (a chore re-posted 10 s later, two reports of one incident) does nothing,
a flood of repeats does no more than one climb, and a request someone accepted, staff
claimed, held or paused for quiet hours, or already at the whistle, is left as it is."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.api.replies import merged_reply_text
from dispatcher.core import Decision
from dispatcher.core.community import CommunityPolicy
from schemas.commands import CancelRequest, ReportRepeated, repeat_command
from schemas.plans import RungAction
from schemas.records import RequestStatus
from schemas.staff_actions import ClaimRequest
from schemas.vocab import Category, Party, Role, Skill, Urgency
from tests.unit.conftest import COMMUNITY, T0, World

SH = ZoneInfo("Asia/Shanghai")
QUIET = CommunityPolicy(quiet_start=time(22), quiet_end=time(7), zone=SH)


def thin_circle() -> World:
    """One driver in the requester's building, staff on duty elsewhere."""
    w = World()
    w.helper("v0", building="3", skills=[Skill.DRIVING])
    w.helper("staff", building="8", roles=[Role.COMMUNITY_STAFF])
    return w


def whistle_step(w: World, request_id: str = "req-1") -> int:
    steps = w.request(request_id).plan.steps
    return next(k for k, s in enumerate(steps) if s.action is RungAction.WHISTLE)


def first_wait(w: World) -> timedelta:
    """The wait of the rung the request's first neighbours were asked on."""
    r = w.request()
    (first,) = {o.step for o in r.offers}
    return timedelta(seconds=r.plan.steps[first].wait_s)


def waited(w: World) -> None:
    """The clock at the current rung's deadline, its timer's climb not decided yet (a timer
    a moment late): the first neighbours have had their time, so what leaves a repeat
    without effect is the guard under test. Not for a held request (its deadline is the
    hold's end)."""
    r = w.request()
    assert r.held_until is None and r.next_deadline is not None
    w.now = max(w.now, r.next_deadline)


def repeated(w: World, report: str = "m-2", request_id: str = "req-1") -> Decision:
    return w.run(
        repeat_command(
            request_id=request_id, community_id=COMMUNITY, report_id=report, issued_at=w.now
        )
    )


def left_as_it_is(w: World) -> None:
    """A repeat that changes nothing: no event, the same rung, no whistle."""
    step = w.request().step
    assert repeated(w).events == ()
    assert w.request().step == step and not w.request().whistle_blown


def kinds(decision: Decision) -> list[str]:
    return [e.body.type for e in decision.events]


def test_a_repeat_nobody_answered_climbs_to_the_whistle_once_they_had_their_time() -> None:
    w = thin_circle()
    w.submit(urgency=Urgency.URGENT)
    step = w.request().step  # the building's rung (nobody paired: climbed past at once)
    assert w.offered() == ["v0"] and 0 < step < whistle_step(w)  # v0 asked, not answering
    # Her rung's full wait (the building's two minutes, not the paired rung's one it climbed
    # past): decided before the timer's own climb.
    assert first_wait(w) == timedelta(minutes=2)
    w.later(120)
    decision = repeated(w)
    r = w.request()
    assert r.step == whistle_step(w) and r.whistle_blown and r.status is RequestStatus.OPEN
    (whistle,) = w.of_type("whistle_blown", decision)
    assert whistle.staff_helper_ids == ("staff",)
    assert "staff" in w.offered(decision)
    assert kinds(decision).count("ring_escalated") == whistle_step(w) - step
    # v0's offer still stands: a late yes is still welcome.
    assert any(o.helper_id == "v0" and o.status.value == "open" for o in r.offers)


def test_a_repeat_inside_the_first_answer_time_does_nothing() -> None:
    """The review's case: a well-staffed building, a resident re-posting a chore 10 s
    later. Before, the repeat skipped every neighbours' rung (three `ring_escalated` and
    the whistle, ten more people and staff offered) while the first three were still
    inside their answer time."""
    w = World()
    for i in range(6):
        w.helper(f"b3-{i}", building="3")
        w.helper(f"b5-{i}", building="5", compound="other", grid="g2")
    w.helper("staff", building="8", roles=[Role.COMMUNITY_STAFF])
    w.submit(category=Category.ERRAND, urgency=Urgency.LOW, skills=(), text="谁能帮我取个快递？")
    first = w.offered()
    assert first and w.request().step == 0
    for seconds in (0, 10, first_wait(w).total_seconds() - 1):  # an hour on the building
        w.now = T0 + timedelta(seconds=seconds)
        left_as_it_is(w)
        assert w.offered() == first  # nobody else asked
    w.now = T0 + first_wait(w)
    assert "whistle_blown" in kinds(repeated(w, "m-late"))


def test_two_reports_of_one_incident_at_once_do_not_climb() -> None:
    w = thin_circle()
    w.submit(urgency=Urgency.URGENT)
    left_as_it_is(w)  # the second report, merged the same second
    w.later(119)  # v0 still has a second of her two minutes
    left_as_it_is(w)


def test_after_the_timer_climbed_a_repeat_climbs_the_rest() -> None:
    """The first neighbours had their time and the ladder went on: a repeat 10 s into the
    next rung hurries the rest, not waiting out that rung's own five minutes."""
    w = thin_circle()
    w.helper("v2", building="4", skills=[Skill.DRIVING])
    w.submit(urgency=Urgency.URGENT)
    w.tick()  # the building's two minutes: the compound's rung, v2 asked
    assert "v2" in w.offered() and w.request().step < whistle_step(w)
    w.later(10)
    decision = repeated(w)
    assert "whistle_blown" in kinds(decision) and w.request().step == whistle_step(w)


def test_a_life_threatening_request_climbs_at_once() -> None:
    """A second "没呼吸了" brings staff now, not after the grid's twenty seconds."""
    w = thin_circle()
    w.submit()  # critical, to hospital: life at risk
    assert w.request().spec.is_life_threatening() and w.offered() == ["v0"]
    decision = repeated(w)
    assert "whistle_blown" in kinds(decision) and w.request().whistle_blown
    assert "staff" in w.offered(decision)


def test_a_critical_request_not_life_threatening_waits_its_first_rung() -> None:
    w = thin_circle()
    w.submit(life_threatening=False)  # critical, but nobody's life at risk
    left_as_it_is(w)
    w.later(first_wait(w).total_seconds())  # the grid's twenty seconds
    assert "whistle_blown" in kinds(repeated(w, "m-3"))


def test_a_flood_of_repeats_climbs_once() -> None:
    w = thin_circle()
    w.submit(urgency=Urgency.URGENT)
    waited(w)
    repeated(w, "m-2")
    before = w.request()
    for i in range(3, 20):
        assert repeated(w, f"m-{i}").events == ()
    assert w.request() == before  # nothing stored either
    assert len(w.of_type("whistle_blown")) == 1


def test_the_same_report_sent_again_is_one_command() -> None:
    a = repeat_command(request_id="r", community_id=COMMUNITY, report_id="m", issued_at=T0)
    b = repeat_command(request_id="r", community_id=COMMUNITY, report_id="m", issued_at=T0)
    c = repeat_command(request_id="r", community_id=COMMUNITY, report_id="n", issued_at=T0)
    assert a.command_id == b.command_id != c.command_id
    assert a.body == ReportRepeated(request_id="r")


def test_replayed_it_decides_the_same() -> None:
    def story() -> list[tuple[str, str]]:
        w = thin_circle()
        w.submit(urgency=Urgency.URGENT)
        repeated(w)  # inside v0's two minutes: nothing
        waited(w)
        repeated(w, "m-3")
        repeated(w, "m-4")
        return [(e.event_id, e.body.model_dump_json()) for e in w.events]

    assert story() == story()


def test_someone_assigned_leaves_the_ladder_alone() -> None:
    w = thin_circle()
    w.submit(urgency=Urgency.URGENT, helpers_needed=2)
    w.helper("v1", building="3", skills=[Skill.DRIVING])
    w.accept("v0")
    waited(w)
    left_as_it_is(w)


def test_a_claimed_request_is_left_to_the_staff_who_claimed_it() -> None:
    w = thin_circle()
    w.submit(urgency=Urgency.URGENT)
    w.run(ClaimRequest(request_id="req-1", by="staff-li"))
    waited(w)
    left_as_it_is(w)


def test_at_or_past_the_whistle_nothing_more() -> None:
    w = thin_circle()
    w.submit(urgency=Urgency.URGENT)
    w.helper("v9", building="3", skills=[Skill.DRIVING])
    while not w.request().whistle_blown:  # the ladder's own climb
        w.tick()
    assert repeated(w).events == ()


def test_quiet_hours_hold_a_chore_and_the_repeat_changes_nothing() -> None:
    w = thin_circle()
    w.state.communities = {COMMUNITY: QUIET}
    # 23:00 in Xiamen: a chore submitted now is held until 07:00.
    w.now = datetime(2024, 3, 5, 23, tzinfo=SH).astimezone(UTC)
    w.submit(urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    assert w.request().held_until is not None
    left_as_it_is(w)


def test_inside_quiet_hours_a_chore_already_climbing_is_not_hurried() -> None:
    w = thin_circle()
    w.state.communities = {COMMUNITY: QUIET}
    w.now = datetime(2024, 3, 5, 21, 50, tzinfo=SH).astimezone(UTC)
    w.submit(urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    assert w.request().held_until is None and w.offered()
    w.now = datetime(2024, 3, 5, 22, 30, tzinfo=SH).astimezone(UTC)
    assert w.request().offers[0].sent_at + first_wait(w) <= w.now  # v0 had her time
    left_as_it_is(w)  # no climb, nor a pause ahead of the ladder's own (`RequestPaused`)


def test_a_critical_request_at_night_still_climbs() -> None:
    w = thin_circle()
    w.state.communities = {COMMUNITY: QUIET}
    w.now = datetime(2024, 3, 5, 23, tzinfo=SH).astimezone(UTC)
    w.submit(urgency=Urgency.CRITICAL)
    decision = repeated(w)
    assert "whistle_blown" in kinds(decision) and w.request().whistle_blown


def test_a_closed_request_is_left_closed() -> None:
    w = thin_circle()
    w.submit(urgency=Urgency.URGENT)
    w.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    w.later(120)
    assert repeated(w).events == ()
    assert w.request().status is RequestStatus.CANCELLED


def test_an_unknown_request_is_rejected_not_crashed() -> None:
    w = thin_circle()
    decision = repeated(w, request_id="nope")
    assert [e.body.type for e in decision.events] == ["command_rejected"]


def test_the_merged_reply_says_staff_were_notified_only_once_the_whistle_is_recorded() -> None:
    spec = World().spec(urgency=Urgency.URGENT)
    waiting = merged_reply_text(spec)
    called = merged_reply_text(spec, staff_called=True)
    assert "已通知社区工作人员" not in waiting and "暂时还没有邻居接单" in waiting
    assert "暂时还没有邻居接单，已通知社区工作人员。" in called and "120/110/119" in called
    # A claim says more than a call; a neighbour on it says neighbours are on it.
    assert "社区工作人员已在跟进" in merged_reply_text(spec, staff_claimed=True, staff_called=True)
    assert "已通知" not in merged_reply_text(spec, helpers_assigned=1, staff_called=True)
