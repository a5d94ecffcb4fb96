"""Session 41: one number at intake, at the whistle and at the referral.

A critical request of a kind the catalogue did not mark `life_at_risk` ("电梯里有人被困" or
"有人晕倒了" sent by a bot as `other`, a critical errand, a critical lost person) was not
life-threatening: the requester was not told to call at intake, the whistle carried no
number (`WhistleBlown.emergency_number` None: no call line in the group's text), yet the
ladder's last rung referred it to 120 (110 for a lost person) from the catalogue's
`referral`, the group told "请立即拨打120" only then. A critical request of any kind the
ladder hands to 120/110/119 is now life-threatening, and a life-threatening one always has a
number (120 unless the words or the kind say 110/119): the three agree. A repair is still
handed to property (a critical burst pipe is no emergency call). Each test failed on the
old code."""

from __future__ import annotations

import pytest

from dispatcher.api.replies import emergency_for, reply_text
from dispatcher.groupchat import texts
from schemas.catalogue import CATALOGUE, entry
from schemas.events import EmergencyCallAdvised, ReferredToEmergency, WhistleBlown
from schemas.plans import DEFAULT_PLANS, EscalationPlan, LadderStep, RungAction
from schemas.vocab import (
    EMERGENCY_SERVICES,
    Category,
    EmergencyNumber,
    ReferralTarget,
    Ring,
    Urgency,
)
from tests.support.events import event_of
from tests.unit.conftest import World

REFER = LadderStep(ring=Ring.EMERGENCY, wave_size=0, wait_s=900)


def _every_plan_refers() -> dict[Urgency, EscalationPlan]:
    """The default plans, each ending with the referral rung (only the critical one has it),
    so that every urgency's whistle and referral can be compared."""
    plans = {}
    for urgency, plan in DEFAULT_PLANS.items():
        refers = any(s.action is RungAction.REFER for s in plan.steps)
        steps = plan.steps if refers else (*plan.steps, REFER)
        plans[urgency] = plan.model_copy(update={"steps": steps})
    return plans


def _run_to_the_referral(
    category: Category, urgency: Urgency, said: bool | None
) -> tuple[World, WhistleBlown, ReferredToEmergency]:
    w = World()  # nobody on the roster: the ladder climbs to the whistle, then refers
    w.state.plans = _every_plan_refers()
    w.submit(category=category, urgency=urgency, skills=(), life_threatening=said)
    for _ in range(40):
        if w.of_type("referred_to_emergency"):
            break
        w.tick()
    [whistle] = w.of_type("whistle_blown")
    [referral] = w.of_type("referred_to_emergency")
    return w, whistle, referral


CASES = [(c, u, s) for c in CATALOGUE for u in Urgency for s in (None, True, False)]


@pytest.mark.parametrize(("category", "urgency", "said"), CASES)
def test_whistle_referral_and_intake_name_one_number(
    category: Category, urgency: Urgency, said: bool | None
) -> None:
    w, whistle, referral = _run_to_the_referral(category, urgency, said)
    spec = w.request().spec
    advised = [b.number for b in w.of_type("emergency_call_advised")]
    if not spec.is_life_threatening():
        # Not life-threatening: nobody is told to call at intake or at the whistle, so the
        # critical plan's own last rung (nobody said otherwise) must not send them to one.
        assert advised == [] and whistle.emergency_number is None and emergency_for(spec) is None
        critical_plan = urgency is Urgency.CRITICAL and said is None
        assert not (critical_plan and referral.to in EMERGENCY_SERVICES), referral.to
        return
    number = spec.emergency()
    assert number is not None  # a life-threatening request always names a number
    assert advised == [number]  # intake: the core's advice ...
    assert emergency_for(spec) is number  # ... the 202's `emergency_number` ...
    assert f"拨打{number.value}" in reply_text(spec)  # ... and the reply the group is posted
    assert whistle.emergency_number is number
    assert referral.to is ReferralTarget(number.value)
    # What the group hears: the whistle (nobody near) and the referral name the same number.
    assert f"拨打{number.value}" in (texts.update_for(event_of(whistle), whistle_people=1) or "")
    assert f"拨打{number.value}" in (texts.update_for(event_of(referral)) or "")


@pytest.mark.parametrize("category", list(CATALOGUE))
def test_a_critical_request_referred_to_an_emergency_service_is_life_threatening(
    category: Category,
) -> None:
    """The rule itself: critical, and the ladder would refer it to 120/110/119, means the
    requester is told at once. Only a kind handed to property stays a non-emergency."""
    _, whistle, referral = _run_to_the_referral(category, Urgency.CRITICAL, None)
    kind = entry(category)
    if kind.referral in EMERGENCY_SERVICES:
        assert whistle.emergency_number is not None
        assert referral.to is ReferralTarget(whistle.emergency_number.value)
    else:
        assert category is Category.REPAIR
        assert whistle.emergency_number is None and referral.to is ReferralTarget.PROPERTY


def test_a_critical_other_request_is_told_120_at_intake_and_at_the_whistle() -> None:
    """The reported case: "电梯里有人被困" sent by a bot as `other`, critical."""
    w = World()
    w.state.plans = DEFAULT_PLANS
    w.submit(category=Category.OTHER, urgency=Urgency.CRITICAL, skills=(), text="电梯里有人被困")
    advised = w.of_type("emergency_call_advised")
    assert [type(b) for b in advised] == [EmergencyCallAdvised]
    assert advised[0].number is EmergencyNumber.AMBULANCE
    assert "请立即拨打120急救电话！" in reply_text(w.request().spec)
    for _ in range(10):
        if w.of_type("whistle_blown"):
            break
        w.tick()
    [whistle] = w.of_type("whistle_blown")
    assert whistle.emergency_number is EmergencyNumber.AMBULANCE
    assert texts.update_for(event_of(whistle), whistle_people=1) == (
        "附近暂时没有可联系的邻居。请立即拨打120急救电话！已通知社区值班人员协助。"
    )


def test_a_critical_lost_person_is_told_110_throughout() -> None:
    _, whistle, referral = _run_to_the_referral(Category.LOST_PERSON, Urgency.CRITICAL, None)
    assert whistle.emergency_number is EmergencyNumber.POLICE
    assert referral.to is ReferralTarget.POLICE


def test_a_critical_burst_pipe_is_still_no_emergency_call() -> None:
    w, whistle, referral = _run_to_the_referral(Category.REPAIR, Urgency.CRITICAL, None)
    assert not w.request().spec.is_life_threatening()
    assert w.of_type("emergency_call_advised") == [] and whistle.emergency_number is None
    assert referral.to is ReferralTarget.PROPERTY
