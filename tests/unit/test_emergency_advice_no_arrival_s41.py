"""The emergency call advice promises no arrival (session 41, after 08938a3).

Before: the `EmergencyCallAdvised` event, written in the same decision as the first
offers (before anyone accepted, and at night nobody may), said "请立即拨打120急救电话！邻居们
也正在赶来帮忙。" (119/110 likewise), while the first reply since 08938a3 says only that
neighbours are being notified. Now every number's advice orders the call and says that.
"""

from __future__ import annotations

import pytest

from dispatcher.core.request_commands import EMERGENCY_MESSAGES
from schemas.vocab import Category, EmergencyNumber
from tests.unit.conftest import World

# What promises that someone is coming or already helping.
ARRIVAL = ("赶来", "在路上", "正在帮忙", "已出发", "前来")


def test_every_number_has_its_advice_and_none_promises_arrival() -> None:
    assert set(EMERGENCY_MESSAGES) == set(EmergencyNumber)
    for number, message in EMERGENCY_MESSAGES.items():
        assert f"请立即拨打{number.value}" in message, message
        assert not [w for w in ARRIVAL if w in message], message
        assert "正在通知附近邻居" in message, message


@pytest.mark.parametrize("number", list(EmergencyNumber))
def test_the_event_written_before_any_accept_says_neighbours_are_told(
    world: World, number: EmergencyNumber
) -> None:
    world.helper("neighbour")
    world.submit(category=Category.OTHER, life_threatening=True, emergency_number=number)
    [advised] = world.of_type("emergency_call_advised")
    assert advised.number is number
    assert world.of_type("helper_assigned") == []  # nobody accepted yet
    assert f"请立即拨打{number.value}" in advised.message
    assert not [w for w in ARRIVAL if w in advised.message], advised.message
