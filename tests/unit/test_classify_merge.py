"""The language model's answer may only raise the rules' answer, never lower a red flag."""

from __future__ import annotations

from dispatcher.classify import classify
from dispatcher.classify.merge import LlmAnswer, disagreements, merge_llm
from schemas.vocab import Category, EmergencyNumber, Skill, Urgency

CALM = LlmAnswer(is_request=False, urgency=Urgency.LOW)


def test_a_red_flag_is_never_lowered() -> None:
    rules = classify("我老婆怀孕八个月，肚子一阵一阵疼，谁能开车送我们去医院")
    assert rules.advise_emergency_call
    merged = merge_llm(rules, CALM)
    assert merged == rules
    assert "is_request" in disagreements(rules, CALM)


def test_it_may_raise_urgency_and_add_skills() -> None:
    rules = classify("谁能帮我看看我家的水龙头，一直滴水")
    answer = LlmAnswer(
        is_request=True,
        category=Category.REPAIR,
        urgency=Urgency.URGENT,
        skills=(Skill.PLUMBING, Skill.GENERAL),
    )
    merged = merge_llm(rules, answer)
    assert merged.urgency is Urgency.URGENT and Skill.PLUMBING in merged.skills
    assert merged.category == rules.category and "llm:urgency:urgent" in merged.reasons


def test_it_never_lowers_urgency_or_drops_a_request() -> None:
    rules = classify("我发烧39度，一个人在家，有没有退烧药可以借我一片")
    answer = LlmAnswer(is_request=False, urgency=Urgency.LOW)
    merged = merge_llm(rules, answer)
    assert merged.is_request and merged.urgency == rules.urgency


def test_it_may_turn_chatter_into_a_request_and_advise_with_our_text() -> None:
    rules = classify("隔壁好像有动静，一直没停")
    assert not rules.is_request
    answer = LlmAnswer(
        is_request=True,
        category=Category.OTHER,
        urgency=Urgency.URGENT,
        advise_emergency_call=True,
        emergency_number=EmergencyNumber.POLICE,
        reason="可能有入室盗窃",
    )
    merged = merge_llm(rules, answer)
    assert merged.is_request and merged.urgency is Urgency.CRITICAL
    assert merged.emergency_number is EmergencyNumber.POLICE
    assert merged.advice and "110" in merged.advice and "入室盗窃" not in merged.advice


def test_advice_without_a_number_is_not_an_emergency() -> None:
    rules = classify("谁能帮我搬一下沙发")
    answer = LlmAnswer(is_request=True, urgency=Urgency.NORMAL, advise_emergency_call=True)
    merged = merge_llm(rules, answer)
    assert not merged.advise_emergency_call and merged.urgency == rules.urgency
