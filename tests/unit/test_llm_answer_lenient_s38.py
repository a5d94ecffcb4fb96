"""Session 38 (audit F4): the language model's emergency verdict survived no bad side field.

`LlmAnswer` was validated whole, so an otherwise good critical / 120 answer with
"emergency_number": 120 (a JSON number), an unknown skill ("cpr"), a reason over 500
characters, an unknown category or "Critical" in capitals was "malformed" and the rules'
normal answer stood: the model dropped exactly where it is the only path to a 120 advice.
The answer is now read field by field; the verdict must still be readable, and the model
may still only raise the rules' answer (never lower urgency, never touch a red flag).

The model is an httpx.MockTransport, as in tests/unit/test_llm_classifier_f1.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.llm_classifier import LlmClassifier
from dispatcher.classify import Classification, classify
from dispatcher.classify.lexicon import EMERGENCIES
from dispatcher.settings import Settings
from schemas.vocab import Category, Skill, Urgency

# The rules read this as a normal request; the model is what may see more in it.
TEXT = "我爸不太对劲，谁能过来看看"
VERDICT: dict[str, Any] = {
    "is_request": True,
    "category": "medical",
    "urgency": "critical",
    "advise_emergency_call": True,
    "emergency_number": "120",
}
SIDE_FIELDS: dict[str, dict[str, Any]] = {
    "number-as-int": {"emergency_number": 120},
    "number-padded": {"emergency_number": " 120 "},
    "unknown-skill": {"skills": ["first_aid", "cpr"]},
    "skill-as-a-string": {"skills": "First_Aid"},
    "skills-not-a-list": {"skills": {"first_aid": True}},
    "long-reason": {"reason": "患者无脉搏，需立即心肺复苏。" * 40},
    "reason-not-text": {"reason": ["无脉搏"]},
    "unknown-category": {"category": "emergency"},
    "category-capitals": {"category": "Medical"},
    "urgency-capitals": {"urgency": "Critical"},
    "everything-at-once": {
        "emergency_number": 120,
        "skills": ["FIRST_AID", "cpr"],
        "reason": "x" * 2000,
        "category": "emergency",
        "urgency": "CRITICAL ",
    },
}
# What still makes the answer unreadable: a verdict we cannot read.
UNREADABLE: dict[str, dict[str, Any]] = {
    "no-is-request": {"is_request": None},
    "is-request-a-word": {"is_request": "maybe"},
    "unknown-urgency": {"urgency": "very"},
    "unknown-number": {"emergency_number": 999},
    "number-a-word": {"emergency_number": "ambulance"},
    "advise-a-word": {"advise_emergency_call": "perhaps"},
}


def completion(answer: dict[str, Any]) -> bytes:
    content = json.dumps(answer, ensure_ascii=False)
    return json.dumps({"choices": [{"message": {"content": content}}]}).encode()


async def refined(text: str, rules: Classification, answer: dict[str, Any]) -> Classification:
    reply = completion(answer)

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=reply, headers={"content-type": "application/json"})

    settings = Settings(llm_base_url="http://llm.test/v1", llm_api_key=SecretStr("k"))
    llm = LlmClassifier(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    try:
        return await llm.refine(text, rules)
    finally:
        await llm.close()


@pytest.mark.parametrize("extra", list(SIDE_FIELDS.values()), ids=list(SIDE_FIELDS))
async def test_a_verdict_survives_a_bad_side_field(extra: dict[str, Any]) -> None:
    rules = classify(TEXT)
    assert rules.urgency is Urgency.NORMAL and not rules.advise_emergency_call
    out = await refined(TEXT, rules, {**VERDICT, **extra})
    assert out.advise_emergency_call and out.emergency_number == "120", out.reasons
    assert out.urgency is Urgency.CRITICAL and "llm:advise:120" in out.reasons
    assert out.advice == EMERGENCIES["medical"].advice  # our vetted text, not the model's


async def test_side_fields_are_read_for_what_they_hold() -> None:
    """Known skills are kept (any case), unknown ones dropped; an unknown category is none
    (a request the model found is then "other")."""
    rules = classify("今天天气真好")
    assert not rules.is_request
    answer = {**VERDICT, **SIDE_FIELDS["everything-at-once"], "advise_emergency_call": False}
    out = await refined("今天天气真好", rules, answer)
    assert out.is_request and out.category is Category.OTHER
    # "CRITICAL " was read (else the rules' non-request stood); "other" is not an everyday
    # kind (`time_not_life`), so the model's critical stands even without a call it advises.
    assert out.urgency is Urgency.CRITICAL and out.skills == (Skill.FIRST_AID,)
    assert not out.advise_emergency_call


@pytest.mark.parametrize("extra", list(UNREADABLE.values()), ids=list(UNREADABLE))
async def test_an_unreadable_verdict_leaves_the_rules_answer(extra: dict[str, Any]) -> None:
    rules = classify(TEXT)
    assert await refined(TEXT, rules, {**VERDICT, **extra}) == rules


LOWER = {
    "is_request": False,
    "category": "Other",
    "urgency": "LOW",
    "skills": ["GENERAL", "nonsense"],
    "advise_emergency_call": False,
    "emergency_number": None,
    "reason": "闲聊" * 400,
}


@pytest.mark.parametrize(
    "text",
    [
        "我发烧39度，一个人在家，有没有退烧药可以借我一片",
        "我爸刚才在家突然晕倒了，叫不醒，谁能帮忙",
    ],
    ids=["urgent-request", "red-flag"],
)
async def test_a_lenient_read_still_only_raises(text: str) -> None:
    """A readable answer that says less (not a request, low, no call) lowers nothing: the
    request, its urgency, its skills and a red flag stay as the rules gave them."""
    rules = classify(text)
    assert rules.is_request and rules.urgency in (Urgency.URGENT, Urgency.CRITICAL)
    out = await refined(text, rules, LOWER)
    assert out.is_request and out.urgency is rules.urgency
    assert set(rules.skills) <= set(out.skills)
    assert out.advise_emergency_call == rules.advise_emergency_call
    assert out.emergency_number == rules.emergency_number
