"""A helper off the roster (deactivated by staff, or left out of the ledger, e.g. under a new
id) keeps the personal link they were sent: its commands are refused (`helper_inactive`,
nothing stored), and no month summary goes to them (audit s38)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta

import pytest

from schemas.commands import (
    CommandBody,
    DeactivateHelper,
    SetDoNotDisturb,
    SetHelperOffer,
    SetHelperStatus,
    UpsertHelper,
)
from schemas.helper_messages import SendHelperSummary
from schemas.helpers import TimeWindow
from schemas.vocab import Skill
from tests.unit.conftest import World
from tests.unit.test_helper_messages import _planner
from tests.unit.test_push_deliveries import events
from tests.unit.test_push_deliveries import with_channels as channels

OWN_CHANGES: list[CommandBody] = [
    SetHelperStatus(helper_id="gone", away=False, busy=False),  # "我回来了，恢复接单"
    SetHelperStatus(helper_id="gone", away=True, busy=False),
    SetDoNotDisturb(helper_id="gone", window=TimeWindow(start=time(22), end=time(7))),
    SetHelperOffer(helper_id="gone", skills=(Skill.PLUMBING,), channels=("webhook:phones",)),
]


def _deactivated(world: World) -> None:
    world.helper("gone", skills=[Skill.DRIVING])
    world.run(DeactivateHelper(helper_id="gone"))


def _left_out_of_the_ledger(world: World) -> None:
    world.helper("gone", skills=[Skill.DRIVING])
    profile = world.state.helpers["gone"].profile.model_copy(update={"active": False})
    world.run(UpsertHelper(profile=profile))


@pytest.mark.parametrize("retire", [_deactivated, _left_out_of_the_ledger])
@pytest.mark.parametrize("body", OWN_CHANGES, ids=lambda b: type(b).__name__)
def test_an_inactive_helpers_own_change_is_refused(
    world: World, retire: Callable[[World], None], body: CommandBody
) -> None:
    retire(world)
    before = world.state.helpers["gone"]
    assert not before.profile.active
    if isinstance(body, SetHelperStatus) and not body.away:
        # Away first, while still inactive: "back" must not clear it either.
        world.state.helpers["gone"] = before = before.model_copy(update={"away": True})
    out = world.run(body)
    rejected = world.of_type("command_rejected", out)
    assert [(r.reason, r.helper_id) for r in rejected] == [("helper_inactive", "gone")]
    assert world.of_type("helper_updated", out) == []
    assert world.state.helpers["gone"] == before  # nothing stored


def test_an_active_helper_still_sets_their_own_state(world: World) -> None:
    world.helper("ann", skills=[Skill.DRIVING])
    on_call = world.now + timedelta(hours=12)
    out = world.run(
        SetHelperStatus(helper_id="ann", away=False, busy=True, dnd_override_until=on_call)
    )
    assert world.of_type("command_rejected", out) == []
    assert world.state.helpers["ann"].busy
    world.run(SetDoNotDisturb(helper_id="ann", window=TimeWindow(start=time(22), end=time(7))))
    assert world.state.helpers["ann"].profile.do_not_disturb is not None


def test_a_deactivated_helper_gets_no_month_summary(world: World) -> None:
    channels(world, "private-driver")  # a helper on a private channel, helped in November
    world.run(DeactivateHelper(helper_id="private-driver"))  # then left the roster
    out = world.run(
        SendHelperSummary(
            helper_id="private-driver", month="2026-11", requests_helped=2, minutes=90
        )
    )
    assert out.events == ()
    assert world.state.helpers["private-driver"].summary_months == ()
    sent = events(world, "helper_summary_sent")
    assert sent == []
    assert [d for e in sent for d in _planner(world).plan(e).deliveries] == []
