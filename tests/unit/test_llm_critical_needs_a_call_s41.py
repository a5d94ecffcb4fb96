"""Session 41 review: the language model alone made a non-emergency life-threatening.

Since 977915e every critical request but a repair is life-threatening (told to call 120,
its allowance and pushes too). `merge_llm` let the model raise urgency to critical while it
advised no call, and `spec_for_message` leaves `life_threatening` to the urgency: "电脑中
病毒了…急！" answered tech_help / critical / no call was told "请立即拨打120急救电话！".
In a kind whose urgency is about time, not life (`CategoryEntry.time_not_life`) the model's
word now raises to critical only together with a call it advises (a number); there
"critical, no call" is urgent. In every other kind (medical, a fall, a hospital run, a lost
person, other) its critical stands and is told the kind's number: capping it everywhere
took the call from a welfare check the rules miss ("好几天没下楼了…敲门没人应"), and a
missed call is the unsafe mistake. Every chat message (platform routes too) is merged here
(`refine_with_llm` in `messages._take_in`); the contact card is not asked of the model."""

from __future__ import annotations

import json

import pytest

from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.models import ChatMessageIn
from dispatcher.api.replies import reply_text
from dispatcher.classify import Classification, classify
from dispatcher.classify.merge import LlmAnswer, merge_llm
from dispatcher.groupchat.bots import GroupPlace
from schemas.catalogue import CATALOGUE, entry
from schemas.requests import RequestSpec
from schemas.vocab import Category, EmergencyNumber, Urgency
from tests.unit.test_llm_classifier_f1 import ModelApi, Seen, body, model_api, post  # noqa: F401

VIRUS = "谁会弄电脑？电脑中病毒了，明早要交材料，急！"
# A welfare check the rules read as other / urgent with no call (no red flag).
UNSEEN = "楼上王大爷好几天没下楼了，打电话也没人接，敲门没人应"
PLACE = GroupPlace(community_id="comm-a", compound_id="c1", compound_name="图强小区")


def spec_of(text: str, c: Classification) -> RequestSpec:
    msg = ChatMessageIn.model_validate(
        {
            "group_id": "g1",
            "message_id": "m1",
            "sender": {"id": "u1", "name": "王女士"},
            "text": text,
        }
    )
    return spec_for_message(msg, c, PLACE, request_id="r1", bot_id="b")


def critical(
    *, call: bool, number: EmergencyNumber | None, category: Category = Category.TECH_HELP
) -> LlmAnswer:
    return LlmAnswer(
        is_request=True,
        category=category,
        urgency=Urgency.CRITICAL,
        advise_emergency_call=call,
        emergency_number=number,
    )


@pytest.mark.parametrize(
    "answer",
    [critical(call=False, number=None), critical(call=True, number=None)],
    ids=["no-call", "call-without-a-number"],
)
def test_the_models_critical_without_a_call_is_urgent(answer: LlmAnswer) -> None:
    rules = classify(VIRUS)
    assert not rules.advise_emergency_call and rules.urgency is not Urgency.CRITICAL
    merged = merge_llm(rules, answer)
    assert merged.urgency is Urgency.URGENT and not merged.advise_emergency_call
    spec = spec_of(VIRUS, merged)
    assert not spec.is_life_threatening() and spec.emergency() is None
    reply = reply_text(spec, merged.advice)
    assert "120" not in reply and "拨打" not in reply, reply


@pytest.mark.parametrize(
    ("text", "life"),
    [(UNSEEN, True), (VIRUS, False)],
    ids=["welfare-check-other", "tech-help"],
)
def test_the_models_critical_without_a_call_by_the_kind(text: str, life: bool) -> None:
    """The welfare check: life-threatening, told the kind's number (120 for "other"); the
    computer: urgent, told no number."""
    rules = classify(text)
    assert not rules.advise_emergency_call and rules.urgency is not Urgency.CRITICAL
    assert rules.category is not None and entry(rules.category).time_not_life is not life
    merged = merge_llm(rules, critical(call=False, number=None, category=rules.category))
    assert not merged.advise_emergency_call and merged.category is rules.category
    spec = spec_of(text, merged)
    reply = reply_text(spec, merged.advice)
    if life:
        assert merged.urgency is Urgency.CRITICAL and spec.is_life_threatening()
        assert spec.emergency() is EmergencyNumber.AMBULANCE
        assert "拨打120" in reply, reply
    else:
        assert merged.urgency is Urgency.URGENT and not spec.is_life_threatening()
        assert spec.emergency() is None
        assert "120" not in reply and "拨打" not in reply, reply


@pytest.mark.parametrize("category", list(CATALOGUE))
def test_every_kind_the_model_calls_critical_without_a_call(category: Category) -> None:
    """Made a request by the model alone (the rules saw none), in each kind: critical and
    told to call exactly where the kind is not `time_not_life` (or, a repair, never)."""
    rules = classify("今天天气真好")
    assert not rules.is_request
    merged = merge_llm(rules, critical(call=False, number=None, category=category))
    assert merged.category is category and not merged.advise_emergency_call
    spec = spec_of("今天天气真好", merged)
    kind = entry(category)
    if kind.time_not_life:
        assert merged.urgency is Urgency.URGENT and spec.emergency() is None
    else:
        assert merged.urgency is Urgency.CRITICAL
        assert spec.is_life_threatening() is kind.critical_is_life_threatening
        assert spec.emergency() is (kind.emergency if kind.critical_is_life_threatening else None)
        if kind.critical_is_life_threatening:
            assert f"拨打{kind.emergency}" in reply_text(spec, merged.advice)


def test_the_model_reading_a_medical_kind_in_a_tech_help_message_is_not_capped() -> None:
    """The request stays tech help (the model never changes the kind), but the model read
    a medical one: critical, life-threatening, told to call 120 (the safe mistake)."""
    rules = classify(VIRUS)
    merged = merge_llm(rules, critical(call=False, number=None, category=Category.MEDICAL))
    assert merged.category is Category.TECH_HELP and merged.urgency is Urgency.CRITICAL
    spec = spec_of(VIRUS, merged)
    assert spec.is_life_threatening() and spec.emergency() is EmergencyNumber.AMBULANCE
    assert "拨打120" in reply_text(spec, merged.advice)


def test_the_models_critical_with_a_call_advises_that_call() -> None:
    rules = classify(VIRUS)
    merged = merge_llm(rules, critical(call=True, number=EmergencyNumber.AMBULANCE))
    assert merged.urgency is Urgency.CRITICAL and merged.advise_emergency_call
    spec = spec_of(VIRUS, merged)
    assert spec.is_life_threatening() and spec.emergency() is EmergencyNumber.AMBULANCE
    assert "拨打120" in reply_text(spec, merged.advice)


def test_the_rules_own_critical_verdict_is_unchanged() -> None:
    text = "我爸刚才在家突然晕倒了，叫不醒，有没有医生护士邻居！"
    rules = classify(text)
    assert rules.urgency is Urgency.CRITICAL
    assert merge_llm(rules, critical(call=False, number=None)) == rules


@pytest.mark.parametrize(
    ("text", "category", "number"),
    [(VIRUS, "tech_help", None), (UNSEEN, "other", EmergencyNumber.AMBULANCE)],
    ids=["tech-help-not-told-to-call", "welfare-check-told-to-call"],
)
async def test_a_chat_message_the_model_calls_critical_without_a_call(
    model_api: ModelApi,  # noqa: F811
    text: str,
    category: str,
    number: EmergencyNumber | None,
) -> None:
    seen: Seen = []
    answer = {"is_request": True, "category": category, "urgency": "critical"}
    api = await model_api(body(json.dumps(answer | {"advise_emergency_call": False})), seen)
    response = await post(api, text)
    assert response.status_code == 202, response.text
    out = response.json()
    assert len(seen) == 1  # the model was asked, and its verdict merged
    (spec,) = api.sink.specs()
    assert out["advise_emergency_call"] is (number is not None), out
    assert out["emergency_number"] == number, out
    assert spec.is_life_threatening() is (number is not None) and spec.emergency() is number
    if number is None:
        assert out["urgency"] == Urgency.URGENT.value and "120" not in out["reply_text"], out
    else:
        assert out["urgency"] == Urgency.CRITICAL.value, out
        assert f"拨打{number}" in out["reply_text"], out
