"""The safety floor: every red flag → critical, its number and advice, whatever else says."""

from __future__ import annotations

import pytest

from dispatcher.classify import classify
from dispatcher.classify.normalise import normalise
from dispatcher.classify.rules import classify_text
from dispatcher.classify.safety import apply_floor
from schemas.vocab import Category, Urgency

# (message, number): simplified and traditional, spoken forms and voice-to-text slips.
RED = [
    ("我老婆怀孕八个月，肚子一阵一阵疼，谁能开车送我们去医院", "120"),
    ("我老婆懷孕八個月，肚子一陣一陣疼，誰能開車送我們去醫院", "120"),
    ("孕妇见红了，预产期还有一个月", "120"),
    ("我妈胸口疼得厉害", "120"),
    ("我爸突然喘不上来气", "120"),
    ("奶奶晕到了叫不醒", "120"),  # voice-to-text: 晕到
    ("老爷子在卫生间摔倒了起不来", "120"),
    ("我爸嘴歪了，说话含糊", "120"),
    ("手上割了个大口子，血一直往外冒止不住", "120"),
    ("孩子吃果冻卡住了喘不了气", "120"),
    ("我老伴鱼刺卡在喉咙里了", "120"),
    ("他低血糖犯了，手抖出冷汗", "120"),
    ("天台上有个人坐在边上，好像想不开", "110"),
    ("厨房着火了！", "119"),
    ("樓道裡好大的煙，是不是著火了", "119"),
    ("一股煤气味，好像燃气泄漏了", "119"),
    ("我家孩子不见了，穿红衣服，五岁", "110"),
    ("隔壁男的在打老婆，喊救命", "110"),
    ("厝边阿嬤暈倒佇門口", "120"),
]


@pytest.mark.parametrize(("text", "number"), RED)
def test_red_flags_are_critical_with_the_right_number(text: str, number: str) -> None:
    result = classify(text)
    assert result.is_request and result.urgency is Urgency.CRITICAL, result.reasons
    assert result.advise_emergency_call and result.advice
    assert result.emergency_number is not None and result.emergency_number.value == number
    assert number in result.advice


@pytest.mark.parametrize(
    "text",
    [
        "谢谢大家！我爸刚才晕倒了，现在醒了",  # thanks first: the rules say "not a request"
        "不用麻烦了，我老婆怀孕八个月肚子疼，我自己开车",  # a cancel word
        "请问附近哪家医院好？我妈胸口疼",  # an information question
    ],
)
def test_the_floor_overrides_what_the_rules_say(text: str) -> None:
    rules_alone = classify_text(text)
    floored = classify(text)
    assert floored.urgency is Urgency.CRITICAL and floored.emergency_number is not None
    assert floored == apply_floor(normalise(text), rules_alone)
    assert any(r.startswith("floor:") for r in floored.reasons) or rules_alone == floored


def test_the_floor_only_raises() -> None:
    plain = classify("周六需要两个人帮忙搬沙发")
    assert apply_floor(normalise("周六需要两个人帮忙搬沙发"), plain) == plain
    assert plain.urgency is not Urgency.CRITICAL and plain.category is Category.CARRYING


@pytest.mark.parametrize(
    "text",
    ["没有人晕倒，大家放心", "不是煤气泄漏，是烧烤味", "下周三消防演练，模拟着火疏散"],
)
def test_negated_or_drill_is_not_a_red_flag(text: str) -> None:
    assert not classify(text).advise_emergency_call


# A break-in, also one found afterwards: 110 whatever the wording (none of these sentences is
# in the corpus; tests/data/classifier_corpus/heldout_breakin.jsonl measures the rule).
BREAK_INS = [
    "下午回家发现门被人撬了",
    "宿舍被盗了，电脑不在了",
    "我们家昨晚进了贼，阳台门开着",
    "婆婆家失窃，存折找不到了",
    "早上一看，储藏间的锁被剪了",
    "有陌生人闯过我家，柜子全打开了",
    "樓下那戶的窗戶被撬開了",  # traditional
    "厝里遭了小偷，老人吓坏了",  # Minnan 厝
]


@pytest.mark.parametrize("text", BREAK_INS)
def test_a_break_in_is_a_110_red_flag(text: str) -> None:
    result = classify(text)
    assert result.urgency is Urgency.CRITICAL, result.reasons
    assert result.emergency_number is not None and result.emergency_number.value == "110"


@pytest.mark.parametrize(
    "text",
    [
        "晚上老担心进贼，谁会装防盗窗",  # a worry: 进贼 without 了
        "防盗门的门把手松了，谁帮忙拧一下",  # 防盗 is a kind of door
        "谁家有撬棍，井盖卡住了",  # a tool
        "前年我家被偷过一次，后来装了监控",  # a story
        "不是进贼了，是风把门吹开了",  # negated
    ],
)
def test_break_in_words_without_a_break_in_are_not_red_flags(text: str) -> None:
    assert not classify(text).advise_emergency_call, classify(text).reasons
