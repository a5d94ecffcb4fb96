"""Session 39: a helper kept after a staff referral to 120/110/119 (b75c8e8) can say they
cannot go after all.

Before: `request_commands.helper_withdrew` refused 去不了了 on any closed request
(`request_closed`), so a kept helper who could no longer go had no way to say so: staff
(and 120) went on counting on someone who was not coming. Now the withdrawal is recorded
(`HelperWithdrawn`: the dashboard's live feed shows it, the read model's helpers_assigned
drops) and nothing else happens: no neighbour is asked instead (the request is with the
professionals), the request stays referred. Any other closing still refuses it."""

from __future__ import annotations

import pytest

from schemas.commands import (
    CancelRequest,
    CompleteAssignment,
    MarkOnMyWay,
    ReferRequest,
    ResolveRequest,
    WithdrawHelper,
)
from schemas.records import RequestStatus
from schemas.vocab import Category, Party, ReferralTarget, Skill
from tests.unit.conftest import World
from tests.unit.test_kept_helpers_after_referral_s38 import REG, pushes
from tests.unit.test_push_deliveries import planner, with_channels

EMERGENCY = [ReferralTarget.AMBULANCE, ReferralTarget.POLICE, ReferralTarget.FIRE]


@pytest.fixture
def kept(world: World) -> World:
    """A fall, two needed: a accepted and is on the way, b accepted (not set off), c holds
    an open offer; then staff referred it to 120 (both kept, c stood down)."""
    for h in ("a", "b", "c", "d"):
        with_channels(world, h)
    world.submit(category=Category.FALL, helpers_needed=2, skills=(Skill.DRIVING,))
    world.accept("a")
    world.accept("b")
    world.run(MarkOnMyWay(request_id="req-1", helper_id="a"))
    return world


def _refer(world: World, to: ReferralTarget) -> None:
    dept = "街道" if to is ReferralTarget.DEPARTMENT else ""
    world.run(ReferRequest(request_id="req-1", to=to, department=dept))
    assert world.request().status is RequestStatus.REFERRED


@pytest.mark.parametrize("to", EMERGENCY)
@pytest.mark.parametrize("no_show", [False, True])
def test_a_kept_helper_can_withdraw_and_nobody_else_is_asked(
    kept: World, to: ReferralTarget, no_show: bool
) -> None:
    _refer(kept, to)
    kept.later(120)
    before = kept.request()
    out = kept.run(WithdrawHelper(request_id="req-1", helper_id="b", no_show=no_show))
    assert kept.of_type("command_rejected", out) == []
    [gone] = kept.of_type("helper_withdrawn", out)
    assert (gone.helper_id, gone.no_show) == ("b", no_show)
    assert [e.body.type for e in out.events] == ["helper_withdrawn"]  # no wave, no rung
    r = kept.request()
    assert r.status is RequestStatus.REFERRED and r.referred_to is to
    assert (r.closed_at, r.closed_by) == (before.closed_at, before.closed_by)
    assert (r.step, r.next_deadline) == (before.step, before.next_deadline)
    [b] = [a for a in r.assignments if a.helper_id == "b"]
    assert (b.active, b.no_show, b.ended_at) == (False, no_show, kept.now)
    load = kept.state.helpers["b"].load
    # Their own 去不了了 after being told "go on if you can" costs no ranking (review of
    # f9aaea0 + abb025b: it had cost 1.2 accepts); a no-show staff record does.
    assert (load.no_show_total, load.withdrawn_total) == ((1, 0) if no_show else (0, 0))
    # a, on the way, is still kept; b's later presses find no assignment.
    assert [a.helper_id for a in r.assignments if a.active] == ["a"]
    later = kept.run(CompleteAssignment(request_id="req-1", helper_id="b", minutes=5))
    assert [x.reason for x in kept.of_type("command_rejected", later)] == ["not_assigned"]
    # A second tap is nothing new.
    again = kept.run(WithdrawHelper(request_id="req-1", helper_id="b"))
    assert not again.events


def test_a_kept_helper_on_the_way_can_withdraw_too(kept: World) -> None:
    _refer(kept, ReferralTarget.AMBULANCE)
    out = kept.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    assert [e.body.type for e in out.events] == ["helper_withdrawn"]


def test_a_kept_helper_done_cannot_withdraw(kept: World) -> None:
    _refer(kept, ReferralTarget.AMBULANCE)
    kept.run(CompleteAssignment(request_id="req-1", helper_id="a", minutes=30))
    out = kept.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    assert [x.reason for x in kept.of_type("command_rejected", out)] == ["already_done"]
    assert kept.of_type("helper_withdrawn", out) == []


def _cancelled(world: World) -> None:
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))


def _resolved(world: World) -> None:
    world.run(ResolveRequest(request_id="req-1", by=Party.STAFF))


@pytest.mark.parametrize(
    "closing",
    [
        _cancelled,
        _resolved,
        lambda w: _refer(w, ReferralTarget.PROPERTY),
        lambda w: _refer(w, ReferralTarget.DEPARTMENT),
    ],
    ids=["cancelled", "resolved", "property", "department"],
)
def test_any_other_closing_still_refuses_or_ignores_it(kept: World, closing) -> None:
    """Resolved: the helpers' assignments stand (their 已完成 counts) but a withdrawal is
    refused as closed, as before. Cancelled or referred elsewhere: they were stood down,
    the withdrawal finds nothing to end."""
    closing(kept)
    out = kept.run(WithdrawHelper(request_id="req-1", helper_id="b"))
    assert kept.of_type("helper_withdrawn", out) == []
    assert kept.of_type("offer_sent", out) == []
    rejected = [x.reason for x in kept.of_type("command_rejected", out)]
    held = any(a.helper_id == "b" and a.active for a in kept.request().assignments)
    assert rejected == (["request_closed"] if held else []), (rejected, held)


def test_a_lifetime_end_still_refuses_it(kept: World) -> None:
    """The request's lifetime ran out with helpers assigned: resolved by the system, and
    a withdrawal after it is refused as closed, as before."""
    while kept.request().status is not RequestStatus.RESOLVED:
        kept.tick()
    out = kept.run(WithdrawHelper(request_id="req-1", helper_id="b"))
    assert [x.reason for x in kept.of_type("command_rejected", out)] == ["request_closed"]


def test_a_kept_helper_who_withdrew_is_not_told_to_go_on(kept: World) -> None:
    """The referral's notice is planned on the state after it (a withdrawal since
    included): b, who said 去不了了 already, is not asked to go on."""
    decision = kept.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    kept.run(WithdrawHelper(request_id="req-1", helper_id="b"))
    told = pushes(planner(kept, REG), decision.events)
    assert [d.recipient for d in told if d.message.title.startswith("求助已转交")] == ["a"]
