"""Session 41 review of 6f217f5: a welfare check on an elder alone is companionship.

6f217f5 marked companionship (陪伴照看) `time_not_life`, so the language model's
"critical, no call" in it was capped at urgent. But the rules put lone-elder welfare checks
into that kind ("我家老人独居，一天没接电话了，谁能帮忙去看看": companionship / normal, no red
flag): answered companionship / critical / no call it became urgent, not life-threatening,
and its reply named no number. Companionship is no longer `time_not_life`: the model's
critical stands there, life-threatening, told to call 120 (a needless call is the safe
mistake)."""

from __future__ import annotations

import json

import pytest

from dispatcher.api.replies import reply_text
from dispatcher.classify import classify
from dispatcher.classify.merge import merge_llm
from schemas.catalogue import entry
from schemas.vocab import Category, EmergencyNumber, Urgency
from tests.unit.test_llm_classifier_f1 import ModelApi, Seen, body, model_api, post  # noqa: F401
from tests.unit.test_llm_critical_needs_a_call_s41 import critical, spec_of

WELFARE_CHECKS = [
    "我家老人独居，一天没接电话了，谁能帮忙去看看",
    "帮忙看看我家老人，一直没回消息",
    "麻烦谁去陪一下我妈，她一个人在家说头晕",
]


@pytest.mark.parametrize("text", WELFARE_CHECKS, ids=["alone-no-answer", "no-reply", "dizzy-alone"])
def test_a_welfare_check_the_model_calls_critical_is_told_to_call(text: str) -> None:
    rules = classify(text)
    # The rules' reading: companionship, not critical, no call (the model decides).
    assert rules.is_request and rules.category is Category.COMPANIONSHIP
    assert rules.urgency is not Urgency.CRITICAL and not rules.advise_emergency_call
    merged = merge_llm(rules, critical(call=False, number=None, category=Category.COMPANIONSHIP))
    assert merged.category is Category.COMPANIONSHIP and merged.urgency is Urgency.CRITICAL
    spec = spec_of(text, merged)
    assert spec.is_life_threatening() and spec.emergency() is EmergencyNumber.AMBULANCE
    assert "拨打120" in reply_text(spec, merged.advice)


def test_companionship_is_not_an_everyday_kind() -> None:
    kind = entry(Category.COMPANIONSHIP)
    assert not kind.time_not_life and kind.critical_is_life_threatening


async def test_a_welfare_check_on_the_chat_route_is_told_to_call(
    model_api: ModelApi,  # noqa: F811
) -> None:
    """The whole path: /v1/messages with the model answering companionship / critical /
    no call."""
    seen: Seen = []
    answer = {"is_request": True, "category": "companionship", "urgency": "critical"}
    api = await model_api(body(json.dumps(answer | {"advise_emergency_call": False})), seen)
    response = await post(api, WELFARE_CHECKS[0])
    assert response.status_code == 202, response.text
    out = response.json()
    assert len(seen) == 1  # the model was asked, and its verdict merged
    (spec,) = api.sink.specs()
    assert out["urgency"] == Urgency.CRITICAL.value and out["emergency_number"] == "120", out
    assert "拨打120" in out["reply_text"], out
    assert spec.is_life_threatening() and spec.emergency() is EmergencyNumber.AMBULANCE
