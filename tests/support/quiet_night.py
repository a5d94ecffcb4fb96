"""A quiet night's events for one community, from the core itself (tests/unit/conftest.py
`World`, quiet hours 19:00-07:00 in Shanghai): requests held, a team staff called during the
hold, releases at 07:00, neighbours accepting. For the figures counted from when anyone was
first asked (the read model's `ASKED_FROM`, the worker's histograms)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from schemas.commands import AcceptOffer
from schemas.events import Event
from schemas.staff_actions import CallTeam
from tests.unit.conftest import COMMUNITY, T0, World
from tests.unit.test_core_community_settings import chore, quiet
from tests.unit.test_core_party_teams import person

LOCAL = timezone(timedelta(hours=8))
KINDS = ("night", "team", "filled", "declined", "day")
# Seconds each request waited for its first accept once anyone was asked (`a_quiet_night`).
WAITS = {"night": 300.0, "team": 600.0, "filled": 600.0, "declined": 300.0, "day": 120.0}
EVENING = ("night", "team", "filled", "declined")  # opened on the 5th (local)


def _neighbour_offered(w: World, request_id: str, besides: str = "") -> str:
    asked = {o.helper_id for o in w.request(request_id).offers} - {"lead-a", "lead-b", besides}
    return sorted(asked)[0]


def a_quiet_night(c: str, start: datetime = T0) -> list[Event]:
    """Community `c`'s events (its request ids `c/<kind>`), `start` being 20:00 in Shanghai:
    - night: opened 20:00, held, released 07:00, a neighbour accepts 07:05: 300 s;
    - team: held; staff call a team at 21:00, its leader accepts for one of two at 21:10;
      released 07:00 (a need left), a neighbour accepts 07:05: 600 s (from the team's offer);
    - filled: held; a team called at 21:00 fills it at 21:10, never released: 600 s;
    - declined: held; a team called at 21:00 declines at 21:10; released 07:00, a neighbour
      accepts 07:05: 300 s (nobody else was asked before the release);
    - day: opened 10:05 the next day, not held, accepted 2 min later: 120 s."""
    w = World()
    person(w, "lead-a", building="9", leads_teams=("TA",))
    person(w, "lead-b", building="9", leads_teams=("TB",))
    person(w, "lead-c", building="9", leads_teams=("TC",))
    for hid in ("n1", "n2", "n3", "n4"):
        w.helper(hid)
    w.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    w.now = start
    night, team, filled, declined, day = (f"{c}/{k}" for k in KINDS)
    chore(w, night)
    chore(w, team, helpers_needed=2)
    chore(w, filled)
    chore(w, declined)
    for rid in (night, team, filled, declined):
        assert w.request(rid).held_until is not None, rid
    w.later(3600)
    w.run(CallTeam(request_id=team, team_id="TA", by="li.wei"))
    w.run(CallTeam(request_id=filled, team_id="TB", by="li.wei"))
    w.run(CallTeam(request_id=declined, team_id="TC", by="li.wei"))
    w.later(600)
    w.decline("lead-c", declined)
    for rid, leader in ((team, "lead-a"), (filled, "lead-b")):
        offer_id = w.offer_id(leader, rid)
        w.run(AcceptOffer(request_id=rid, offer_id=offer_id, helper_id=leader, members=1))
    assert w.request(filled).status.value == "filled"
    assert w.request(team).status.value == "open"
    for rid in (night, team, declined):
        w.tick(rid)  # 07:00: released, the ladder starts
        assert w.request(rid).held_until is None, rid
    w.later(300)
    first = _neighbour_offered(w, night)
    w.accept(first, night)
    second = _neighbour_offered(w, team, besides=first)
    w.accept(second, team)
    w.accept(sorted({"n1", "n2", "n3", "n4"} - {first, second})[0], declined)
    w.later(3 * 3600)  # 10:05, no quiet hours
    chore(w, day)
    assert w.request(day).held_until is None
    w.later(120)
    w.accept(_neighbour_offered(w, day), day)
    return [  # ids too: each World numbers its commands and events from one
        e.model_copy(update={"community_id": c, "event_id": f"{c}:{e.event_id}"}) for e in w.events
    ]
