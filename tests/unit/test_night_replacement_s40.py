"""A replacement needed in quiet hours after the ladder's last rung is deferred to their end,
not skipped (session 40).

`ladder.paused_for_quiet_hours` returned "paused" past the last rung without pausing: no
`RequestPaused`, no deadline at the quiet hours' end. A helper withdrawing at 23:00 from a
chore whose ladder had climbed all its rungs (one of two slots held) left the slot open with
nobody asked at 07:00, nor ever after: the request waited for its end. Now the replacement
is deferred like a paused rung: `RequestPaused` (the group hears when it goes on), and at
07:00 the open slot gets its offer (`ladder.resume`'s top-up).
"""

from __future__ import annotations

from schemas.commands import WithdrawHelper
from schemas.records import RequestStatus
from schemas.vocab import Category, Urgency
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_quiet_hours_pause_s39 import QUIET, at, at_night, run_out, sends, world


def test_a_withdrawal_at_night_past_the_last_rung_is_replaced_at_seven():
    w = world()
    w.now = at(6, 12)
    w.submit("r", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=(), helpers_needed=2)
    [first] = w.offered()
    w.accept(first, "r")
    steps = len(w.request("r").plan.steps)
    while w.request("r").step < steps:  # nobody else answers: every rung climbed, by day
        w.tick("r")
    assert not at_night(w.now) and w.request("r").status is RequestStatus.OPEN
    w.now = at(6, 20)
    w.helper("newcomer", building="3", compound="tuqiang", grid="g1")  # joins in the evening
    w.now = at(6, 23)
    out = w.run(WithdrawHelper(request_id="r", helper_id=first))
    r = w.request("r")
    assert not w.offered(out)  # nobody asked at night
    # Deferred, as a paused rung is (old code: no pause, next deadline the request's end).
    assert [(p.until, p.local_time, p.step) for p in w.of_type("request_paused", out)] == [
        (at(7, 7), "07:00", steps)
    ]
    assert r.held_until == at(7, 7) and r.next_deadline == at(7, 7)
    morning = w.tick("r")
    assert w.now == at(7, 7)
    assert w.offered(morning) == ["newcomer"]
    assert w.request("r").held_until is None
    assert not [s for s in sends(w) if at_night(s[0])]


def test_a_late_whistle_does_not_end_a_chore_in_the_night():
    """The whistle blown late (a slot reopened near the end climbs to it at once) moved the
    end to now + its wait, counting the night: blown at 20:30 with 4 h, a chore with no offer
    out (nothing to pause it) expired at 00:30, in the night. It ends as they end (07:00),
    as a pause moves its end."""
    w = World()
    w.state.communities = {COMMUNITY: QUIET}
    w.helper("only")
    w.now = at(6, 12)
    w.submit("r", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    w.accept("only", "r")
    r = w.request("r")
    assert r.status is RequestStatus.FILLED and r.ends_at == at(7, 21)
    w.now = at(7, 20, 30)  # half an hour before its end: too late for the rungs left
    out = w.run(WithdrawHelper(request_id="r", helper_id="only"))
    assert w.of_type("whistle_blown", out), "climbed to the whistle at once"
    assert not w.offered(out)  # nobody left to ask: no offer out to pause it at night
    r = w.request("r")
    assert r.ends_at == at(8, 7)  # old code: at(8, 0, 30), in the night
    run_out(w)
    r = w.request("r")
    assert r.status is RequestStatus.EXPIRED and r.closed_at == r.ends_at == at(8, 7)
    assert not [s for s in sends(w) if at_night(s[0])]
