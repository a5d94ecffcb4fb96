"""Session 41 (H3's note): a life-threatening whistle where neighbours were asked told the
group only "已通知社区值班人员协助。": staff on duty were said to come, the number to call was
not said again (only when nobody at all was asked). Now the call line follows the staff
sentence for every life-threatening whistle (110/119 likewise); a normal one is unchanged.
Failed on the old code."""

from __future__ import annotations

import pytest

from dispatcher.groupchat import texts
from schemas.events import Event, WhistleBlown
from schemas.vocab import Category, EmergencyNumber, Urgency
from tests.support.events import event_of


def _event(body: WhistleBlown) -> Event:
    return event_of(body, request_id="r1")


def _whistle(number: EmergencyNumber | None, asked: int | None) -> WhistleBlown:
    return WhistleBlown(
        step=2,
        staff_helper_ids=("duty-1",),
        category=Category.MEDICAL,
        urgency=Urgency.CRITICAL if number else Urgency.NORMAL,
        building_label="3号楼",
        open_slots=1,
        neighbours_asked=asked,
        emergency_number=number,
    )


@pytest.mark.parametrize(
    ("number", "line"),
    [
        (EmergencyNumber.AMBULANCE, "请立即拨打120急救电话！"),
        (EmergencyNumber.POLICE, "请立即拨打110报警！"),
        (EmergencyNumber.FIRE, "请立即拨打119！"),
    ],
)
@pytest.mark.parametrize("asked", [3, None])  # neighbours asked, or an event before the count
def test_a_life_threatening_whistle_says_the_number_though_neighbours_were_asked(
    number: EmergencyNumber, line: str, asked: int | None
) -> None:
    said = texts.update_for(_event(_whistle(number, asked)), whistle_people=1)
    assert said == texts.WHISTLE_CALLED + "如情况仍危急，" + line


def test_a_normal_whistle_is_unchanged() -> None:
    said = texts.update_for(_event(_whistle(None, 3)), whistle_people=1)
    assert said == texts.WHISTLE_CALLED
