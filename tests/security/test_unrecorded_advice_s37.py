"""Session 37: the reply of a life-threatening message nobody could be dispatched for (over
the bot's emergency allowance, PostgreSQL or Kafka out of reach) never says neighbours are
coming. It was the classifier's advice plus "系统繁忙，暂未能通知邻居", and that advice says
"邻居们正在赶来" (medical, fall, trapped, suicide, rescue) or "邻居们正在帮忙寻找" (a missing
child or elder): the requester was told in one breath that neighbours were on their way and
that none had been told, and might wait for them. Every kind's advice, alone and joined as the
safety floor joins two kinds', keeps its call and its first aid and loses only that promise.
"""

from __future__ import annotations

import itertools

from dispatcher.api.ratelimit import over_allowance_reply
from dispatcher.classify import lexicon as lx
from schemas.vocab import EmergencyNumber

NOBODY_TOLD = "系统繁忙，暂未能通知邻居：请马上拨打电话，并呼喊身边的人帮忙。"
PROMISES = ("邻居们正在", "邻居们也正在", "正在赶来")


def assert_no_promise(reply: str) -> None:
    assert not any(p in reply for p in PROMISES), reply
    assert reply.endswith(NOBODY_TOLD), reply
    said = reply.removesuffix(NOBODY_TOLD)
    assert said.endswith(("。", "！")) and "，。" not in said and "！。" not in said, reply


def test_no_kind_of_emergency_is_told_neighbours_are_coming() -> None:
    for kind, emergency in lx.EMERGENCIES.items():
        reply = over_allowance_reply(emergency.advice, emergency.number)
        assert_no_promise(reply)
        if emergency.number is not None:
            assert emergency.number.value in reply, (kind, reply)


def test_two_kinds_joined_as_the_safety_floor_joins_them() -> None:
    for a, b in itertools.permutations(lx.EMERGENCIES.values(), 2):
        assert_no_promise(over_allowance_reply(f"{a.advice} {b.advice}"))


def test_without_advice_the_request_number_is_named() -> None:
    assert over_allowance_reply(None, EmergencyNumber.FIRE).startswith("情况危急请立即拨打119！")
    assert over_allowance_reply(None).startswith("情况危急请立即拨打120（急救）、110（报警）或119")
