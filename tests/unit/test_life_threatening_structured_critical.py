"""A bot's structured request saying `life_threatening: true` is critical whatever urgency
the bot chose (review finding: it kept "normal", so its ladder respected do-not-disturb and
waited up to an hour per ring while the requester was told neighbours were coming)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dispatcher.api.models import HelpRequestIn
from dispatcher.api.requests import emergency_said, spec_from
from dispatcher.core import DispatchState
from schemas.commands import SubmitRequest
from schemas.plans import DEFAULT_PLANS
from schemas.vocab import Skill, Urgency
from tests.support import builders
from tests.unit.conftest import COMMUNITY, World, window

# 23:00 in Xiamen, Tuesday: the neighbours who can help have do-not-disturb on.
NIGHT = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
QUIET_WORDS = "我爸在家摔了"  # no red flag in the words: only the bot's field says it


def bot_spec(**fields: Any) -> Any:
    body = HelpRequestIn.model_validate(
        builders.request(COMMUNITY, category="fall", text=QUIET_WORDS, skills=[], **fields)
    )
    alarm = emergency_said(body)
    assert alarm is None
    return spec_from(body, "req-1", None, alarm)


@pytest.mark.parametrize("urgency", ["low", "normal", "urgent", "critical"])
def test_life_threatening_true_makes_a_structured_request_critical(urgency: str) -> None:
    spec = bot_spec(urgency=urgency, life_threatening=True)
    assert spec.urgency is Urgency.CRITICAL
    assert spec.is_life_threatening() and spec.emergency() == "120"


@pytest.mark.parametrize("said", [None, False])
def test_without_the_field_the_bots_urgency_stands(said: bool | None) -> None:
    fields = {} if said is None else {"life_threatening": said}
    spec = bot_spec(urgency="normal", **fields)
    assert spec.urgency is Urgency.NORMAL and not spec.is_life_threatening()


def test_its_ladder_rings_the_neighbours_at_night_at_the_critical_pace() -> None:
    w = World()
    w.state = DispatchState(plans=DEFAULT_PLANS)
    w.now = NIGHT
    w.helper("first-aider", skills=[Skill.FIRST_AID], dnd=window("22:00", "07:00"))
    decision = w.run(SubmitRequest(spec=bot_spec(urgency="normal", life_threatening=True)))
    assert w.of_type("emergency_call_advised", decision)
    assert w.offered(decision) == ["first-aider"]  # do-not-disturb does not hold it back
    plan = w.request().plan
    assert plan == DEFAULT_PLANS[Urgency.CRITICAL] and not plan.respect_do_not_disturb
