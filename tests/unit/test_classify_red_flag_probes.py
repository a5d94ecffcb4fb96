"""Red-flag probes: every life-threatening message gets its number, and chatter gets none.

`tests/data/classifier_red_flags.jsonl` holds messages written to find false negatives of
the safety floor: cardiac, stroke, breathing and choking, unconscious, bleeding, seizures,
poisoning, drowning, electrocution, falls from a height, burns, labour, suicide, allergy,
fire, gas, people trapped, violence, a missing child or elder with dementia; in simplified
and traditional script, spoken, Minnan-flavoured, typed by a child, voice-to-text without
punctuation, with emoji and addresses. The 90 tagged "heldout" were written after the first
round of rule changes and measured once before the second (README of the corpus folder).
Negatives are near misses the floor must not cry wolf on ("想死你们了", "女儿的玩具丢了",
"烧烤店天天冒烟", "我爸心梗出院了").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dispatcher.classify import classify, emergency_in
from dispatcher.classify.evaluate import field_ok
from schemas.vocab import Urgency

PROBES = Path(__file__).resolve().parents[1] / "data" / "classifier_red_flags.jsonl"


def _load() -> list[dict[str, Any]]:
    lines = PROBES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = _load()
RED = [c for c in CASES if c["red_flag"]]
# Labelled neither a red flag nor possibly critical: no number may be advised.
CALM = [c for c in CASES if not c["red_flag"] and "critical" not in c["expect"].get("urgency", "")]


def test_the_probe_set_covers_every_kind() -> None:
    assert len(RED) >= 300 and len(CALM) >= 60
    tags = {t for c in RED for t in c["tags"]}
    wanted = {"cardiac", "stroke", "breathing", "unconscious", "bleeding", "seizure", "poison"}
    wanted |= {"drowning", "electric", "fall_height", "burn", "pregnancy", "suicide", "allergy"}
    wanted |= {"fire", "gas", "trapped", "violence", "lost", "child_writer", "voice", "heldout"}
    assert wanted <= tags
    numbers = {n for c in RED for n in c["expect"]["emergency_number"].split(" or ")}
    assert numbers == {"110", "119", "120"}


@pytest.mark.parametrize("case", RED, ids=[c["text"][:24] for c in RED])
def test_a_life_threatening_message_gets_the_right_number_and_critical(
    case: dict[str, Any],
) -> None:
    result = classify(case["text"])
    assert result.is_request and result.urgency is Urgency.CRITICAL, result.reasons
    assert result.advise_emergency_call and result.advice, result.reasons
    assert field_ok("emergency_number", case["expect"]["emergency_number"], result), (
        result.emergency_number,
        result.reasons,
    )
    assert result.emergency_number is not None and result.emergency_number.value in result.advice
    # A bot's structured request with the same text: the floor alone says the same.
    assert emergency_in(case["text"]).emergency_number == result.emergency_number


@pytest.mark.parametrize("case", CALM, ids=[c["text"][:24] for c in CALM])
def test_a_near_miss_gets_no_emergency_advice(case: dict[str, Any]) -> None:
    result = classify(case["text"])
    assert not result.advise_emergency_call, result.reasons
    assert result.urgency is not Urgency.CRITICAL and result.emergency_number is None


@pytest.mark.parametrize(
    "text", ["我不想活了", "有人要跳楼 在7号楼楼顶", "活着太累了 今晚就结束吧", "我想从阳台跳下去"]
)
def test_a_suicide_threat_is_told_110_120_and_the_crisis_hotline(text: str) -> None:
    result = classify(text)
    assert result.emergency_number is not None and result.emergency_number.value == "110"
    assert result.advice is not None
    assert all(word in result.advice for word in ("110", "120", "12356"))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我家老人走丢了 有老年痴呆", "lost_elder"),
        ("孩子头卡在栏杆里出不来", "trapped"),
        ("孩子被狗咬了 腿上血流个不停", "medical"),  # bitten by a dog: a person's red flag
    ],
)
def test_the_reason_names_the_kind(text: str, kind: str) -> None:
    assert any(r.startswith(f"red_flag:{kind}:") for r in classify(text).reasons)


@pytest.mark.parametrize(
    "text",
    [
        "我在小区门口看到一个老爷爷迷路了，好像有点糊涂，谁认识",  # found, not lost
        "我爸以前得过脑梗 现在想找人陪他散步",  # had once
        "小狗被车撞了 流了好多血",  # the animal is hurt
    ],
)
def test_found_elders_past_illness_and_animals_stay_calm(text: str) -> None:
    assert not classify(text).advise_emergency_call, classify(text).reasons
