"""Session 38's audit of the safety floor: red flags it dropped and chatter it raised.

F1: a flag spanning a past clause and a present one ("以前也晕倒过，这回叫不醒了") was judged by
its first clause and dropped. F2: cardiac arrest and CPR wording (and a few other kinds) was
no red flag. F3: a scare taken back anywhere ("刚才是误报") silenced a new emergency said after
it. F5: a device acting up (抽风), a stove that will not light (不着火), laughter (笑得…喘不上气),
a leg cramp and a barbecue's smoke were critical. The findings' messages failed before the fix;
their counterparts here (stories, retractions, seizures, real smoke) must stay as they were."""

from __future__ import annotations

import pytest

from dispatcher.classify import classify, emergency_in
from schemas.vocab import Urgency

# (message, number): must be critical, told to call that number.
EMERGENCIES = [
    # F1: the past clause does not silence the present one the flag runs into.
    ("以前也晕倒过，这回叫不醒了", "120"),
    ("上次也是晕倒，这次叫不醒了", "120"),
    # F2: no pulse, no heartbeat, a call for CPR.
    ("我爸好像没脉搏了，谁会心肺复苏", "120"),
    ("谁会做心肺复苏！", "120"),
    ("我爸没心跳了", "120"),
    ("3栋有没有医生，我爸没心跳了", "120"),
    ("我爸摸不到心跳了", "120"),
    ("快来人做人工呼吸", "120"),
    ("老人心脏停了", "120"),
    ("谁会cpr快来", "120"),
    # F2: the audit's other misses.
    ("楼顶有个人要跳下去", "110"),
    ("楼道有好大的火", "119"),
    ("充电的电瓶车爆炸了", "119"),
    ("孩子锁车里了，太阳好大", "119"),
    ("不小心把宝宝锁车里了", "119"),
    ("老人中暑晕了", "120"),
    ("厨房一股煤汽味", "119"),
    ("孩子抽蓄了怎么办", "120"),
    # F3: a new emergency after a retraction, said as now.
    ("刚才是误报，现在又闻到煤气味了", "119"),
    ("上午是虚惊一场，这回真的着火了", "119"),
    # F5's counterparts: a person's seizure and distress stay emergencies.
    ("孩子玩手机时突然抽风了", "120"),
    ("宝宝又抽风了", "120"),
    ("孩子笑得喘不上气，后来嘴唇发紫了", "120"),
    ("煤气灶打不着火，一股煤气味", "119"),
    ("不好了着火了", "119"),
    ("我妈抽筋了，全身发抖", "120"),
    ("手脚抽筋了", "120"),
    ("楼下烧烤店冒黑烟了", "119"),
    ("做饭的时候厨房全是烟", "119"),
    # Clauses judged as before: a past word in the flag's own clause with a present clause.
    ("我爸刚才晕倒了，叫不醒，他以前有高血压", "120"),
]

# Must not be told to call any number.
NOT_EMERGENCIES = [
    # F5: devices, stoves, laughter.
    "我家wifi又抽风了",
    "今天电梯又抽风了",
    "打印机抽风了谁会修",
    "电脑最近总是抽风",
    "厨房抽风机坏了谁会修",
    "煤气灶点不着火，谁会修",
    "热水器点不着火",
    "煤气灶不着火了",
    "笑得我喘不上气",
    "辣得喘不过气",
    "我腿抽筋了",
    "楼下烧烤好大的烟，谁去说说",
    # F1/F3: stories and retractions stay silent.
    "去年我爸也是心梗，幸好送得及时",
    "去年我爸也晕倒了，叫不醒，幸好送得及时",
    "原来是虚惊一场，煤气没漏",
    "着火了！哦不对是误报",
    "刚才说着火是误报，大家放心",
    "刚才误报了，不好意思，闻到煤气味是隔壁在做饭",
    # F2's near misses: learning CPR, anger, keys in a car, a mild heat headache, a breaker.
    "社区组织学习心肺复苏",
    "谁会心肺复苏 想学一下",
    "奶奶想学做心肺复苏 有没有人教",
    "有没有心跳监测手环推荐",
    "他发了好大的火",
    "今天好大的火烧云",
    "孩子把钥匙锁车里了",
    "中暑了头有点晕",
    "阳台的灯要跳闸了",
]


@pytest.mark.parametrize(("text", "number"), EMERGENCIES)
def test_a_red_flag_is_critical_with_its_number(text: str, number: str) -> None:
    c = classify(text)
    assert (c.is_request, c.urgency, c.advise_emergency_call) == (True, Urgency.CRITICAL, True), (
        c.reasons
    )
    assert c.emergency_number is not None and c.emergency_number.value == number, c.reasons
    assert c.emergency_number == emergency_in(text).emergency_number


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_chatter_stories_and_near_misses_get_no_number(text: str) -> None:
    c = classify(text)
    assert not c.advise_emergency_call and c.emergency_number is None, (c.urgency, c.reasons)
    assert c.urgency is not Urgency.CRITICAL, c.reasons
    assert emergency_in(text).emergency_number is None


@pytest.mark.parametrize("text", ["笑得我喘不上气", "煤气灶不着火了"])
def test_the_model_alone_does_not_raise_them(text: str) -> None:
    # The rule tables find nothing here; the red-flag model read them as breathing and fire.
    assert classify(text, use_model=False).emergency_number is None
    assert classify(text).emergency_number is None
