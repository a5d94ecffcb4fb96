"""Quiet hours changed while they hold requests (audit s43 F3/F4).

A hold's end is fixed when the request is held (`submit`: `held_until`, a pause: the same),
and only a configuration view changed when staff edited the community: adding quiet hours
paused a climbing chore at its next rung, but removing (or shortening) them left a held or
paused chore waiting to the old end (07:00) while a new one went out at once. Now the worker
sends the core a `ReportQuietHoursChanged` per request the changed hours hold otherwise
(streams/deadline_timer.py `holds_to_review`), decided at its time from the hours then: no
longer held, released (or its paused ladder goes on); held to another end, held to that. The
old end's deadline, if it still comes, is an ordinary tick: nothing is released twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.core.community import CommunityPolicy
from dispatcher.core.state import Decision
from schemas.commands import Command, deadline_command, quiet_hours_command
from schemas.records import RequestStatus
from schemas.vocab import Category, Urgency
from tests.unit.conftest import COMMUNITY, World

SH = ZoneInfo("Asia/Shanghai")
NIGHT = CommunityPolicy(quiet_start=time(22), quiet_end=time(7), zone=SH)
SENDS = {"offers_sent", "offer_sent", "ring_escalated", "whistle_blown", "referred_to_emergency"}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=SH).astimezone(UTC)


def world() -> World:
    w = World()
    w.state.communities = {COMMUNITY: NIGHT}
    for i, b in enumerate(("3", "9", "1")):
        w.helper(f"h{i}", building=b)
    return w


def set_hours(w: World, start: int | None, end: int | None) -> None:
    """The worker's configuration view once staff changed the community's hours."""
    if start is None or end is None:
        w.state.communities = {}
    else:
        w.state.communities = {
            COMMUNITY: CommunityPolicy(quiet_start=time(start), quiet_end=time(end), zone=SH)
        }


def hours_command(w: World, request_id: str, held_until: datetime, sent_at: datetime) -> Command:
    """The worker's command, as `holds_to_review` makes it: the hours it sees now."""
    policy = w.state.policy(COMMUNITY)
    return quiet_hours_command(
        request_id=request_id,
        community_id=COMMUNITY,
        held_until=held_until,
        sent_at=sent_at,
        quiet_start=policy.quiet_start,
        quiet_end=policy.quiet_end,
        time_zone=str(policy.zone),
    )


def look_again(w: World, request_id: str = "r") -> Decision:
    """The worker's command, decided at its time."""
    held = w.request(request_id).held_until
    assert held is not None
    return w.run(hours_command(w, request_id, held, w.now))


def kinds(decision: Decision) -> list[str]:
    return [e.body.type for e in decision.events]


def held_chore(w: World) -> None:
    w.now = at(6, 23)
    w.submit("r", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    assert w.request("r").held_until == at(7, 7) and not w.offered()


def test_a_held_chore_goes_out_at_the_command_once_quiet_hours_are_removed():
    w = world()
    held_chore(w)
    w.now = at(6, 23, 30)
    set_hours(w, None, None)
    decision = look_again(w)
    r = w.request("r")
    assert "request_released" in kinds(decision)
    assert w.offered(decision), "its first wave goes out now, not at 07:00"
    assert all(e.occurred_at == at(6, 23, 30) for e in decision.events)
    assert r.held_until is None and r.step_started_at == at(6, 23, 30)
    assert r.next_deadline is not None and r.next_deadline < at(7, 7)
    # Its lifetime is not cut: it ends no sooner than it would have.
    assert r.ends_at >= at(7, 7)


def test_the_old_deadline_and_the_command_again_then_change_nothing():
    w = world()
    held_chore(w)
    old = w.request("r")
    w.now = at(6, 23, 30)
    set_hours(w, None, None)
    look_again(w)
    released = w.request("r")
    # The timer's deadline for the old end, sent before the release was decided (in flight):
    # decided after it, it releases nothing again and sends nothing.
    w.later(1)
    assert old.deadline_step is not None and old.next_deadline == at(7, 7)
    stale = deadline_command(
        request_id="r", community_id=COMMUNITY, step=old.deadline_step, due_at=at(7, 7)
    )
    decision = w.run(stale.model_copy(update={"issued_at": w.now}))
    assert not decision.events and w.request("r").offers == released.offers
    # The same command again (a copy, a retry): nothing.
    again = hours_command(w, "r", at(7, 7), at(6, 23, 30))
    assert not w.run(again).events
    # At 07:00 itself the old deadline is an ordinary tick of a running ladder: no release.
    w.now = at(7, 7)
    late = w.run(stale)
    assert "request_released" not in kinds(late) and "request_held" not in kinds(late)
    assert len(w.of_type("request_released")) == 1


def test_a_paused_chore_goes_on_at_the_command_once_quiet_hours_are_removed():
    w = world()
    w.now = at(6, 21, 59, 59)
    w.submit("r", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    rung = w.request("r").step
    w.tick("r")  # the rung's wait ends after 22:00: paused until 07:00
    assert w.request("r").held_until == at(7, 7) and w.request("r").step == rung
    w.now = at(6, 23, 30)
    set_hours(w, None, None)
    decision = look_again(w)
    r = w.request("r")
    assert r.held_until is None and r.step == rung + 1 and r.step_started_at == at(6, 23, 30)
    assert "ring_escalated" in kinds(decision)
    # A pause ends with no release (the read model counts time to first accept from one).
    assert "request_released" not in kinds(decision)


def test_shortened_hours_hold_to_their_new_end_and_release_there():
    w = world()
    held_chore(w)
    w.now = at(6, 23, 30)
    set_hours(w, 22, 5)
    decision = look_again(w)
    r = w.request("r")
    assert [(e.body.until, e.body.local_time) for e in decision.events] == [(at(7, 5), "05:00")]
    assert r.held_until == r.next_deadline == r.step_started_at == at(7, 5)
    assert not [e for e in decision.events if e.body.type in SENDS]
    tick = w.tick("r")
    assert w.now == at(7, 5) and "request_released" in kinds(tick) and w.offered(tick)


def test_extended_hours_hold_on_and_the_lifetime_moves_with_them():
    w = world()
    held_chore(w)
    ends = w.request("r").ends_at
    w.now = at(6, 23, 30)
    set_hours(w, 22, 9)
    look_again(w)
    r = w.request("r")
    assert r.held_until == r.next_deadline == at(7, 9)
    # Its end as a chore's submitted now under the new hours (its lifetime counted from
    # 09:00, the next night's 22:00-09:00 not counted either): 2 h later per hold's end.
    w.submit("fresh", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    assert r.ends_at == w.request("fresh").ends_at == ends + timedelta(hours=4)
    # The old end's deadline (in flight) finds it held to 09:00: nothing goes out.
    w.now = at(7, 7)
    decision = w.run(
        deadline_command(request_id="r", community_id=COMMUNITY, step=0, due_at=at(7, 7))
    )
    assert not [e for e in decision.events if e.body.type in SENDS]
    assert w.request("r").held_until == at(7, 9)


def test_a_paused_chore_whose_hours_were_extended_stays_paused_to_the_new_end():
    w = world()
    w.now = at(6, 21, 59, 59)
    w.submit("r", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    w.tick("r")  # paused until 07:00
    w.now = at(6, 23, 30)
    set_hours(w, 22, 9)
    decision = look_again(w)
    assert [(e.body.type, e.body.until) for e in decision.events] == [("request_paused", at(7, 9))]
    assert w.request("r").held_until == at(7, 9)
    start = len(w.events)
    while w.request("r").next_deadline < at(7, 9):  # its offers' expiry: nothing new
        w.tick("r")
    assert not [e for e in w.events[start:] if e.body.type in SENDS]
    decision = w.tick("r")
    assert w.now == at(7, 9) and w.request("r").held_until is None
    assert "ring_escalated" in kinds(decision)


def test_unchanged_hours_or_a_request_no_longer_held_change_nothing():
    w = world()
    held_chore(w)
    w.now = at(6, 23, 30)
    assert not look_again(w).events  # the same end
    set_hours(w, None, None)
    look_again(w)
    w.accept(w.offered()[0], "r")
    cmd = hours_command(w, "r", at(7, 7), w.now)
    assert not w.run(cmd).events
    assert w.request("r").status is not RequestStatus.OPEN
