"""A chore's ladder pauses through the community's quiet hours (session 39).

Only `submit` read quiet hours: a normal or low request that came in just before them
climbed all night - offers at 22:09, 22:24, 22:54 and the whistle (the whole community
group told) near midnight - though "nobody is asked for a chore at night"
(dispatcher/core/community.py). Now, for a request quiet hours would hold, nothing new goes
out in them after its submission (no rung, no replacement offer, no whistle, no referral):
the group is told once (`RequestPaused`), offers already out can still be accepted, and at
their end the ladder goes on with the next rung. Its lifetime does not count quiet hours,
so it never ends in the night nor bursts through its rungs in the morning. Urgent and
critical requests climb at night as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatcher.core.community import CommunityPolicy
from schemas.records import RequestStatus
from schemas.staff_actions import CallTeam
from schemas.vocab import Category, Urgency
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_core_party_teams import person

SH = ZoneInfo("Asia/Shanghai")
QUIET = CommunityPolicy(quiet_start=time(22), quiet_end=time(7), zone=SH)
# What goes out to people: offers (a rung, a replacement, a re-wave), a climb, the whistle
# (staff and the group), a referral.
SENDS = {"offers_sent", "offer_sent", "ring_escalated", "whistle_blown", "referred_to_emergency"}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=SH).astimezone(UTC)


def at_night(t: datetime) -> bool:
    local = t.astimezone(SH).time()
    return local >= time(22) or local < time(7)


def world(quiet: bool = True) -> World:
    w = World()
    if quiet:
        w.state.communities = {COMMUNITY: QUIET}
    for i, (b, c, g) in enumerate(
        [("3", "tuqiang", "g1"), ("9", "tuqiang", "g1"), ("1", "other", "g1"), ("1", "x", "g2")]
    ):
        w.helper(f"h{i}", building=b, compound=c, grid=g)
    return w


def chore(w: World, urgency: Urgency = Urgency.NORMAL) -> None:
    w.submit("r", urgency=urgency, category=Category.ERRAND, skills=())


def run_out(w: World, until: datetime | None = None) -> None:
    """Fire the request's deadlines until it ends (or the clock passes `until`)."""
    while not w.request("r").terminal and (until is None or w.request("r").next_deadline < until):
        w.tick("r")


def sends(w: World, start: int = 0) -> list[tuple[datetime, str]]:
    return [(e.occurred_at, e.body.type) for e in w.events[start:] if e.body.type in SENDS]


def test_a_chore_just_before_quiet_hours_sends_nothing_new_in_them_and_goes_on_at_seven():
    w = world()
    w.now = at(6, 21, 59, 59)
    chore(w)
    assert w.offered(), "the first rung went out before quiet hours"
    rung = w.request("r").step  # (an empty paired ring is climbed at once)
    run_out(w)
    r = w.request("r")
    night = [s for s in sends(w) if at_night(s[0])]
    assert not night, night
    paused = w.of_type("request_paused")
    assert [(p.until, p.local_time, p.step) for p in paused] == [(at(7, 7), "07:00", rung)]
    assert not w.of_type("request_held") and not w.of_type("request_released")
    # The ladder went on at 07:00 with the next rung, then climbed by day to the whistle.
    morning = [e for e in w.events if e.occurred_at >= at(7, 7)]
    assert morning[0].occurred_at == at(7, 7) and morning[0].body.type == "ring_escalated"
    assert morning[0].body.step == rung + 1
    assert w.of_type("whistle_blown") and r.terminal
    assert r.closed_at is not None and not at_night(r.closed_at)


def test_the_pause_holds_the_rung_and_the_morning_starts_the_next_with_its_full_wait():
    w = world()
    w.now = at(6, 21, 59, 59)
    chore(w)
    rung, wait = w.request("r").step, w.request("r").plan.steps[w.request("r").step].wait_s
    w.tick("r")  # the rung's wait is over after 22:00: paused, not climbed
    r = w.request("r")
    assert w.now == at(6, 21, 59, 59) + timedelta(seconds=wait) and at_night(w.now)
    assert r.step == rung and r.held_until == at(7, 7) and r.status is RequestStatus.OPEN
    assert r.deadline_step == rung
    run_out(w, until=at(7, 7))  # the night's deadlines (its offers' expiry) send nothing
    assert not [s for s in sends(w) if at_night(s[0])]
    assert w.request("r").next_deadline == at(7, 7)
    decision = w.tick("r")
    r = w.request("r")
    assert w.now == at(7, 7)
    assert r.held_until is None and r.step == rung + 1 and r.step_started_at == at(7, 7)
    assert [e.body.step for e in decision.events if e.body.type == "ring_escalated"] == [rung + 1]
    assert w.offered(decision)
    assert r.next_deadline is not None and r.next_deadline > at(7, 7)
    # Not a hold: no release (the read model would count its first accept from 07:00).
    assert not w.of_type("request_released", decision)


def test_an_offer_already_out_is_still_accepted_in_the_night():
    w = world()
    w.now = at(6, 21, 59, 59)
    chore(w)
    [first] = w.offered()
    w.tick("r")  # paused at 22:09:59
    w.now = at(6, 22, 30)
    decision = w.accept(first, "r")
    assert [a.helper_id for a in w.of_type("helper_assigned", decision)] == [first]
    assert w.request("r").status is RequestStatus.FILLED


def test_a_decline_in_the_night_gets_no_replacement_until_morning():
    w = world()
    w.now = at(6, 21, 59, 59)
    chore(w)
    [first] = w.offered()
    rung = w.request("r").step
    w.now = at(6, 22, 5)
    decision = w.decline(first, "r")  # the rung's wait is not over, its one offer is lost
    assert not [e for e in decision.events if e.body.type in SENDS]
    assert [p.until for p in w.of_type("request_paused", decision)] == [at(7, 7)]
    run_out(w, until=at(7, 7, 0, 1))  # the night's deadlines, then 07:00
    assert not [s for s in sends(w) if at_night(s[0])]
    r = w.request("r")
    assert w.now == at(7, 7) and r.held_until is None
    assert r.step == rung + 1 and r.step_started_at == at(7, 7)  # the rung's wait was over
    assert [t for t, kind in sends(w) if kind == "offers_sent"][-1] == at(7, 7)


def test_a_staff_call_in_the_pause_still_reaches_the_team():
    w = world()
    person(w, "lead", building="9", leads_teams=("t1",))
    w.now = at(6, 21, 59, 59)
    chore(w)
    w.tick("r")  # paused
    w.now = at(6, 23)
    decision = w.run(CallTeam(request_id="r", team_id="t1", by="li.wei"))
    assert "lead" in w.offered(decision)


@pytest.mark.parametrize("urgency", [Urgency.URGENT, Urgency.CRITICAL])
def test_an_urgent_request_climbs_in_the_night_exactly_as_without_quiet_hours(urgency):
    runs = []
    for quiet in (True, False):
        w = world(quiet)
        w.now = at(6, 21, 59, 59)
        chore(w, urgency)
        run_out(w)
        runs.append([(e.occurred_at, e.body.type) for e in w.events])
    assert runs[0] == runs[1]
    assert [s for s in runs[0] if s[1] in SENDS and at_night(s[0])], "it did climb at night"


@pytest.mark.parametrize("urgency", [Urgency.NORMAL, Urgency.LOW])
@pytest.mark.parametrize("hour", [0, 6, 7, 12, 18, 20, 21, 22, 23])
def test_a_chore_sent_at_any_hour_asks_nobody_new_at_night_and_never_ends_there(urgency, hour):
    w = world()
    w.now = at(6, hour, 30)
    chore(w, urgency)
    first = w.request("r").ends_at
    run_out(w)
    r = w.request("r")
    opened_in_quiet = at_night(at(6, hour, 30))
    night = [s for s in sends(w) if at_night(s[0])]
    assert not night, night
    assert r.terminal and r.closed_at is not None and not at_night(r.closed_at)
    assert r.closed_at <= first == r.ends_at  # its end, fixed when it came in, held
    # Told once a night it paused (not when it was held at submission: the reply said so).
    nights = {p.until for p in w.of_type("request_paused")}
    assert len(nights) == len(w.of_type("request_paused"))
    assert all(p.local_time == "07:00" for p in w.of_type("request_paused"))
    assert bool(w.of_type("request_held")) is opened_in_quiet


def test_the_lifetime_does_not_count_quiet_hours():
    w = world()
    w.now = at(6, 10)
    chore(w)
    # 24 h outside 22:00-07:00: 12 h on the 6th, 12 h on the 7th.
    assert w.request("r").ends_at == at(7, 19)
    u = world()
    u.now = at(6, 10)
    chore(u, Urgency.URGENT)
    assert u.request("r").ends_at == at(6, 10) + timedelta(seconds=u.request("r").plan.lifetime_s)
