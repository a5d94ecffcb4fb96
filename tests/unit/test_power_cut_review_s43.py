"""Review of 3729acc (a person to help down in a power cut is carrying): what it broke.

1. With the outage words read as context, "停电了，电梯里困着人，老人下不了楼" stopped telling
   the property (it had been an urgent repair, which does); people stuck now still need it.
2. The carry pattern "扶…上楼" matched 扶手 (handrail): "楼梯扶手松了上楼不安全" became carrying.
3. "下不了楼" alone was a carrying request: "今天下雨下不了楼，谁能帮我扔个垃圾" too.
"""

from __future__ import annotations

import pytest

from dispatcher.classify import classify
from schemas.vocab import Category


@pytest.mark.parametrize(
    "text",
    [
        "断电了，电梯卡在两层之间，里面有老人，需要人背下去",
        "停电了，电梯里困着人，老人下不了楼",
        "停电了，家里老人用呼吸机，没电了，谁能帮忙背她下楼",
        "跳闸了，下不了楼，谁帮忙看看",
    ],
)
def test_someone_stuck_in_a_power_cut_still_tells_the_property(text: str) -> None:
    # The rules alone: the red-flag model may raise some of these to critical, but it is a
    # second opinion that can be off or unsure, not what the property notice rests on.
    c = classify(text, use_model=False)
    assert c.is_request, c.reasons
    assert c.notify_property, (c.category, c.urgency, c.reasons)


def test_a_fridge_to_carry_up_in_a_lift_outage_does_not_tell_the_property() -> None:
    """A guard (passes on the old code too): normal urgency, nobody stuck."""
    c = classify("电梯坏了，谁能帮我把冰箱抬上楼", use_model=False)
    assert c.category is Category.CARRYING, c.reasons
    assert not c.notify_property, (c.urgency, c.reasons)


@pytest.mark.parametrize(
    "text", ["楼梯扶手松了上楼不安全，谁能修一下", "停电了，楼梯扶手坏了上楼危险，谁会修"]
)
def test_a_loose_handrail_is_a_repair_not_carrying(text: str) -> None:
    c = classify(text)
    assert c.is_request, c.reasons
    assert c.category is Category.REPAIR, (c.category, c.reasons)
    assert not [r for r in c.reasons if r.startswith("cue:carrying")], c.reasons


@pytest.mark.parametrize("text", ["今天下雨下不了楼，谁能帮我扔个垃圾", "下不了楼了，小区门口封了"])
def test_cannot_get_downstairs_without_a_person_is_no_carrying(text: str) -> None:
    c = classify(text)
    assert c.category is not Category.CARRYING, c.reasons


def test_cannot_get_downstairs_alone_is_no_request() -> None:
    c = classify("下不了楼了，小区门口封了")
    assert not c.is_request, (c.category, c.reasons)
