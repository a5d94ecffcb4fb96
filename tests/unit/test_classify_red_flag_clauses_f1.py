"""Review rev31, classifier findings 1, 2 and 6: what cancels a red flag, and words it missed.

1. One past or notice word anywhere (以前, 幸好, 讲座…) cancelled every red flag of the
   message; now only the flag's own clause, and a whole message only when it is a notice
   about a drill (or a scare taken back).
2. "没" within three characters before a flag negated it ("没到预产期就要生了"); now a bare
   没 only right before it, and no negator through 没到, 没看住, 没多久….
6. "大量出血" and "我爸没气了" were no red flags.
"""

from __future__ import annotations

import pytest

from dispatcher.classify import classify, emergency_in
from dispatcher.classify.matching import is_red_flag_negated
from schemas.vocab import Urgency


def assert_emergency(text: str, number: str) -> None:
    result = classify(text)
    assert result.is_request and result.urgency is Urgency.CRITICAL, result.reasons
    assert result.advise_emergency_call and result.advice, result.reasons
    assert result.emergency_number is not None and result.emergency_number.value == number
    assert number in result.advice
    assert emergency_in(text).emergency_number == result.emergency_number  # the floor alone


# A past or notice word in another clause than the red flag.
PAST_ELSEWHERE = [
    ("呼吸困难，胸口很闷，一个人在家，以前有心脏病", "120"),
    ("我爸刚才突然晕倒了，叫不醒，他以前有高血压", "120"),
    ("3栋着火了，火很大，幸好是白天", "119"),
    ("我爸听完讲座回来胸口疼得厉害，喘不上气", "120"),
    ("我爸以前有心脏病，现在胸口疼得厉害，出冷汗", "120"),
    ("去年摔过一次，今天我爸又摔倒了起不来", "120"),
    ("着火了！幸好人都跑出来了，但是我奶奶还在里面出不来", "119"),
    ("我在模拟考试，我妈打电话说家里煤气味很重", "119"),
    ("老公在培训，我肚子疼羊水破了，要生了", "120"),
    ("呼吸困难\n胸口很闷\n以前有心脏病", "120"),  # a line break ends a clause too
]


@pytest.mark.parametrize(("text", "number"), PAST_ELSEWHERE)
def test_a_past_or_notice_word_cancels_only_its_own_clause(text: str, number: str) -> None:
    assert_emergency(text, number)


@pytest.mark.parametrize(
    "text",
    [
        "下周三消防演练，模拟着火疏散",  # the drill word in the flag's clause
        "去年我爸也是心梗，幸好送得及时",  # a story: the past word in the flag's clause
        "前年我家被偷过一次，后来装了监控",
        # A notice about a drill: no flag of it is live, whatever clause it is in.
        "【急救培训】本周六上午举办，内容：有人晕倒了怎么办，喘不上气怎么办，欢迎报名参加",
        "物业通知：明天上午消防演练，届时楼道会冒烟，请勿惊慌",
        "原来是虚惊一场，煤气没漏，是垃圾的味道",  # a scare taken back
    ],
)
def test_drills_notices_stories_and_retractions_are_still_not_red_flags(text: str) -> None:
    result = classify(text)
    assert not result.advise_emergency_call, result.reasons
    assert emergency_in(text).emergency_number is None


def test_a_notice_word_without_a_drill_does_not_silence_an_emergency() -> None:
    assert_emergency("紧急通知：3栋着火了，请大家马上从楼梯撤离", "119")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("我老婆没到预产期就要生了", "120"),
        ("孩子没看住掉水里了", "120"),
        ("刚才还好好的没多久胸口疼得厉害", "120"),
    ],
)
def test_a_bare_mei_before_another_verb_does_not_negate_a_red_flag(text: str, number: str) -> None:
    assert_emergency(text, number)


@pytest.mark.parametrize(
    "text",
    [
        "没有人晕倒，大家放心",
        "不是煤气泄漏，是烧烤味",
        "我爸没晕倒，就是有点累",
        "没有一个人晕倒",  # 没有: three characters as before
        "小心别让孩子掉水里",
        "没听说着火，是烧烤",  # a verb of noticing
    ],
)
def test_a_negated_red_flag_is_still_not_live(text: str) -> None:
    assert not classify(text).advise_emergency_call, classify(text).reasons


def test_red_flag_negation() -> None:
    assert is_red_flag_negated("没人晕倒", 2)  # a bare 没: one character between at most
    assert is_red_flag_negated("不是着火", 2)
    assert is_red_flag_negated("没有一个人晕倒", 5)
    assert not is_red_flag_negated("没看住掉水里了", 3)  # a bare 没, two characters
    assert not is_red_flag_negated("没到预产期", 2)  # 没到: not yet, not "no"
    assert not is_red_flag_negated("没有看住掉水里了", 4)  # 没有看住: not watched
    assert not is_red_flag_negated("有没有人晕倒", 4)  # a question


@pytest.mark.parametrize(
    "text",
    [
        "我爸大量出血",
        "我妈产后大量出血",
        "我爸没气了",
        "我奶奶好像已经没有气了",
        "孩子快没气了",
        "我妈刚才断气了",
        "我妈没法呼吸了",
    ],
)
def test_heavy_bleeding_and_no_breath_are_red_flags(text: str) -> None:
    assert_emergency(text, "120")


@pytest.mark.parametrize("text", ["车胎没气了，谁有打气筒", "煤气罐没气了，谁知道换气电话"])
def test_a_thing_without_air_is_not_a_red_flag(text: str) -> None:
    assert not classify(text).advise_emergency_call, classify(text).reasons
