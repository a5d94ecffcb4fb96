"""What the group hears of a quiet-hours pause whose end is also the request's end
(session 40 review of f7d09d2).

A pause (`RequestPaused`) moves a request's end to the quiet hours' end when it came
sooner (`ladder.paused_for_quiet_hours`), as a late whistle does: such a request does not go
on at 07:00, it ends then (or only its whistle blows). The group still heard "将于07:00继续联系
邻居" from the pause and, for a withdrawal, "将于07:00继续联系其他邻居": untrue. Neither event
says where the request's end is (`RequestPaused` carries only the pause's end; the whistle's
move of the end is in no event), so both texts now say only what holds either way: nobody
else is asked before 07:00.
"""

from __future__ import annotations

from schemas.events import Event
from schemas.plans import EscalationPlan, LadderStep
from schemas.vocab import Ring, Urgency
from tests.unit.conftest import World
from tests.unit.test_paused_withdrawal_group_s40 import PAUSED, heard, withdraws
from tests.unit.test_quiet_hours_pause_s39 import at, chore, world

PAUSE = "现在是社区安静时段，07:00前暂不联系更多邻居。已通知的邻居仍可接单。"


def ending_as_quiet_hours_begin(*waits: float) -> World:
    """A chore at 21:30 whose 30 minutes' lifetime runs out as quiet hours (22:00-07:00)
    begin: it ends as they end, at 07:00 (`lifetime_end`). Rungs of `waits` (building,
    compound), no whistle."""
    w = world()
    rings = (Ring.BUILDING, Ring.COMPOUND)
    plan = EscalationPlan(
        urgency=Urgency.NORMAL,
        steps=tuple(
            LadderStep(ring=r, wave_size=1, wait_s=s)
            for r, s in zip(rings[: len(waits)], waits, strict=True)
        ),
        offer_ttl_s=3600,
        lifetime_s=1800,
    )
    w.state.plans = {**w.state.plans, Urgency.NORMAL: plan}
    w.now = at(6, 21, 30)
    chore(w)
    assert w.request("r").ends_at == at(7, 7)
    return w


def ends_at_seven_asking_nobody(w: World) -> None:
    """What the group was told is true: nobody else is asked, and at 07:00 it ends."""
    after: list[str] = []
    while not w.request("r").terminal:
        after += [e.body.type for e in w.tick("r").events]
    assert w.now == at(7, 7) and after[-1] == "request_expired", after
    assert not {"offers_sent", "offer_sent", "whistle_blown"} & set(after), after


async def test_a_withdrawal_in_a_pause_that_ends_the_request_promises_no_search() -> None:
    w = ending_as_quiet_hours_begin(600)
    helper = w.offered()[0]
    w.accept(helper, "r")
    w.now = at(6, 22, 10)
    decision = withdraws(w, helper)
    assert [e.body.type for e in decision] == ["helper_withdrawn", "request_paused"]
    said = await heard(w, decision)
    assert said == [PAUSED], said
    assert not any("继续" in s for s in said), said
    ends_at_seven_asking_nobody(w)


async def test_the_pause_itself_promises_no_search() -> None:
    w = ending_as_quiet_hours_begin(1200, 600)
    pause: list[Event] = []
    while not pause:  # offers expiring, the compound's rung at 21:50, then 22:00
        pause = [e for e in w.tick("r").events if e.body.type == "request_paused"]
    assert w.now == at(6, 22) and [e.body.type for e in pause] == ["request_paused"]
    assert pause[0].body.until == w.request("r").ends_at == at(7, 7)
    said = await heard(w, pause)
    assert said == [PAUSE], said
    ends_at_seven_asking_nobody(w)
