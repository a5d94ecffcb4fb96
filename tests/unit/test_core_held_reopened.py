"""A request held for quiet hours, filled while held (a called team's leader accepted for
all), reopened after the quiet hours ended (the leader withdrew at 10:00, quiet hours ended
at 07:00): it is released when it reopens, not at 07:00, three hours in the past. Before
(dispatcher/core/draft.py `freeze`), its next deadline was the old `held_until`; the
worker's timer fired it at once, stamped with that time, so the release, the offers (their
links expiring with them) and every rung counted from 07:00: the neighbours' offers expired
as they were sent, each charged a "no answer", and the ladder ran to the whistle in seconds.

Deadlines are fired as the worker fires them: the timer's command is issued at the due time
and decided at `min(issued_at, wall)` (streams/dispatch_agent.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatcher.core import apply, decide
from dispatcher.core.deadlines import DeadlineHeap
from schemas.commands import AcceptOffer, WithdrawHelper, deadline_command
from schemas.plans import DEFAULT_PLANS
from schemas.records import OfferStatus
from schemas.staff_actions import CallTeam
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_core_community_settings import chore, quiet
from tests.unit.test_core_party_teams import person

NEIGHBOURS = {"n1": "3", "n2": "3", "n3": "4", "n4": "5"}


def reopened_after_quiet_hours() -> tuple[World, datetime]:
    w = World()
    w.state.plans = DEFAULT_PLANS
    person(w, "leader", building="9", leads_teams=("T",))
    person(w, "member", building="9", teams=("T",))  # a team of two: may go for two
    for hid, building in NEIGHBOURS.items():
        w.helper(hid, building=building)
    w.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(w, helpers_needed=2)
    w.run(CallTeam(request_id="req-1", team_id="T", by="li.wei"))
    w.run(
        AcceptOffer(
            request_id="req-1", offer_id=w.offer_id("leader"), helper_id="leader", members=2
        )
    )
    held_until = w.request().held_until
    assert held_until is not None and w.request().status.value == "filled"
    w.now = held_until + timedelta(hours=3)  # 10:00 in Shanghai
    w.run(WithdrawHelper(request_id="req-1", helper_id="leader"))
    return w, w.now


def fire_due(w: World, wall: datetime) -> list[str]:
    """Every deadline due by `wall`, as the worker's timer sends and decides them."""
    heap = DeadlineHeap()
    heap.note([w.request()])
    fired: list[str] = []
    for _ in range(30):
        due = heap.pop_due(wall, w.state.requests)
        if not due:
            break
        item = due[0]
        command = deadline_command(
            request_id=item.request_id,
            community_id=item.community_id,
            step=item.step,
            due_at=item.due_at,
        )
        decision = decide(w.state, command, min(command.issued_at, wall))
        apply(w.state, decision)
        heap.note(decision.requests.values())
        fired += [e.body.type for e in decision.events]
    return fired


def test_the_reopened_request_is_released_now_not_in_the_past() -> None:
    w, wall = reopened_after_quiet_hours()
    r = w.request()
    assert r.next_deadline is not None and r.next_deadline >= wall
    fired = fire_due(w, wall)
    assert "request_released" in fired
    assert "whistle_blown" not in fired and "offer_expired" not in fired
    offers = [o for o in w.request().offers if o.helper_id in NEIGHBOURS]
    assert offers and all(o.sent_at >= wall and o.expires_at > wall for o in offers)
    assert all(o.status is OfferStatus.OPEN for o in offers)
    assert all(w.state.helpers[h].load.no_answer_total == 0 for h in NEIGHBOURS)
