"""A stand-down or cancellation is not pushed into a helper's do-not-disturb (session 39,
audit_time).

Before: `DeliveryPlanner._stand_down` planned the push with no do-not-disturb check. An
urgent request offered at 21:50 to a helper whose do-not-disturb is 22:00-07:00, accepted by
a neighbour at 22:10: the sleeping helper got "已有邻居接手，谢谢！…无需再来。" at 22:10, a
night push the urgent plan would never have sent an offer at. Now a helper who never took
the request and is inside their do-not-disturb at the event's time, under a plan that
respects it, is not told (nothing for them to do); read as the core's eligibility reads it
(`eligibility._within_hours`: the community's clock, the helper's own override). A critical
plan, which asks through do-not-disturb, tells them as before; a helper on the way is always
told."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.core.community import CommunityPolicy
from dispatcher.push import PushKind
from dispatcher.push.deliveries import DeliveryPlanner
from schemas.commands import CancelRequest, SetDoNotDisturb, SetHelperStatus
from schemas.helpers import TimeWindow
from schemas.vocab import Party, Urgency
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_push_deliveries import ROBOTS, planner, registry, with_channels

ASKED = datetime(2024, 3, 6, 13, 50, tzinfo=UTC)  # 21:50 in Xiamen
NIGHT = datetime(2024, 3, 6, 14, 10, tzinfo=UTC)  # 22:10 in Xiamen
NIGHT_WINDOW = TimeWindow(start=time(22), end=time(7))


def _two_asked(urgency: Urgency) -> World:
    w = World()
    with_channels(w, "sleepy")
    with_channels(w, "awake")
    w.run(SetDoNotDisturb(helper_id="sleepy", window=NIGHT_WINDOW))
    w.now = ASKED
    w.submit(urgency=urgency, helpers_needed=1)
    assert sorted(w.offered()) == ["awake", "sleepy"]
    w.now = NIGHT
    return w


def _pushed(
    w: World, since: int, p: DeliveryPlanner | None = None
) -> list[tuple[str | None, PushKind]]:
    """Who the stand-downs and cancellations among the events since `since` reach."""
    p = p or planner(w, registry(*ROBOTS))
    return sorted(
        (d.recipient, d.kind)
        for e in w.events[since:]
        if e.body.type in ("offer_stood_down", "offers_stood_down")
        for d in p.plan(e).deliveries
    )


def test_an_urgent_stand_down_waits_out_the_helpers_do_not_disturb() -> None:
    w = _two_asked(Urgency.URGENT)
    since = len(w.events)
    w.accept("awake")
    assert _pushed(w, since) == []  # before: ("sleepy", stand_down) at 22:10


def test_a_critical_plan_tells_them_as_it_asked_them() -> None:
    w = _two_asked(Urgency.CRITICAL)
    since = len(w.events)
    w.accept("awake")
    assert _pushed(w, since) == [("sleepy", PushKind.STAND_DOWN)]


def test_a_cancellation_reaches_the_helper_on_the_way_never_the_sleeper() -> None:
    w = _two_asked(Urgency.URGENT)
    w.run(SetDoNotDisturb(helper_id="awake", window=NIGHT_WINDOW))  # asleep now too
    w.run(CancelRequest(request_id="req-1", by=Party.STAFF))
    assert _pushed(w, 0) == []  # offered, not taken: neither is woken
    w = _two_asked(Urgency.URGENT)
    w.now = ASKED + timedelta(minutes=5)
    w.accept("awake")  # 21:55, awake; then goes quiet, on the way
    w.run(SetDoNotDisturb(helper_id="awake", window=NIGHT_WINDOW))
    w.now = NIGHT
    since = len(w.events)
    w.run(CancelRequest(request_id="req-1", by=Party.STAFF))
    assert _pushed(w, since) == [("awake", PushKind.CANCELLATION)]


def test_the_helpers_own_on_call_override_is_honoured() -> None:
    w = _two_asked(Urgency.URGENT)
    w.run(SetHelperStatus(helper_id="sleepy", dnd_override_until=NIGHT + timedelta(hours=8)))
    since = len(w.events)
    w.accept("awake")
    assert _pushed(w, since) == [("sleepy", PushKind.STAND_DOWN)]


def test_read_on_the_communitys_clock_as_the_core_reads_it() -> None:
    """A community whose zone is London: 14:10 UTC is 14:10 there, outside 22:00-07:00 as
    the core's eligibility reads it (it offered her at 22:10 Xiamen time), so she is told;
    on the helper's own offset (UTC+8) it would be 22:10, inside."""
    w = World()
    w.state.communities = {COMMUNITY: CommunityPolicy(zone=ZoneInfo("Europe/London"))}
    with_channels(w, "sleepy")
    with_channels(w, "awake")
    w.run(SetDoNotDisturb(helper_id="sleepy", window=NIGHT_WINDOW))
    w.now = NIGHT
    w.submit(urgency=Urgency.URGENT, helpers_needed=1)
    assert sorted(w.offered()) == ["awake", "sleepy"]  # the core: not in her quiet hours
    since = len(w.events)
    w.accept("awake")
    p = planner(w, registry(*ROBOTS))
    p.community = w.state.communities.get
    assert _pushed(w, since, p) == [("sleepy", PushKind.STAND_DOWN)]
    assert _pushed(w, since) == []  # no community known: the helper's own offset
