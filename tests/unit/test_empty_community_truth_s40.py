"""What the asking group hears when nobody at all is found (session 40 audit).

1. The immediate reply promised "邻居们正在赶来". With no neighbour to ask the ladder climbs to
   the whistle at once, and the group heard only "正在扩大到全社区范围寻找邻居" and
   "已通知社区值班人员协助": a critical request heard "暂时没有邻居能及时赶到" only at the
   referral two minutes later, any other never before it expired. The whistle now counts the
   neighbours asked before it (`WhistleBlown.neighbours_asked`); at 0 the group hears
   "附近暂时没有可联系的邻居。", and a life-threatening request to call the number again.
2. The ladder's last rung of a repair said "已转交物业处理。" though it hands nothing on itself
   (it asks the duty officer or grid worker to, and with neither only a log line says so): the
   group is now sent to property, with property's number when one is configured.
Each failed on the old code."""

from __future__ import annotations

from dispatcher.groupchat import texts
from schemas.config import Hotline
from schemas.events import (
    Event,
    EventBody,
    ReferredToEmergency,
    RequestReferred,
    WhistleBlown,
)
from schemas.plans import DEFAULT_PLANS
from schemas.vocab import Category, EmergencyNumber, ReferralTarget, Role, Skill, Urgency
from tests.support.events import event_of
from tests.unit.conftest import World

DUTY = Hotline(label="社区值班", number="0571-8888 0000")
WUYE = Hotline(label="物业服务中心", number="0571-8666 0000")


def _world() -> World:
    w = World()
    w.state.plans = DEFAULT_PLANS
    return w


def _until(w: World, kind: type[EventBody]) -> Event:
    for _ in range(20):
        found = [e for e in w.events if isinstance(e.body, kind)]
        if found:
            return found[0]
        w.tick()
    raise AssertionError(f"no {kind.__name__}")


def _whistle(w: World) -> tuple[Event, WhistleBlown]:
    event = _until(w, WhistleBlown)
    assert isinstance(event.body, WhistleBlown)
    return event, event.body


# ---------------------------------------------------------------- 1. nobody found at all


def test_a_critical_request_with_nobody_to_ask_is_told_so_and_to_call_at_the_whistle() -> None:
    w = _world()  # nobody on the roster
    w.submit(urgency=Urgency.CRITICAL, category=Category.MEDICAL, skills=(Skill.FIRST_AID,))
    event, body = _whistle(w)
    assert event.occurred_at == w.now  # at once, not after the rings' waits
    said = texts.update_for(event, whistle_people=1)
    assert said == "附近暂时没有可联系的邻居。请立即拨打120急救电话！已通知社区值班人员协助。"
    assert body.neighbours_asked == 0
    assert body.emergency_number is EmergencyNumber.AMBULANCE
    # Nobody on the whistle list either: still no promise, and the community's numbers.
    assert texts.update_for(event, [DUTY], whistle_people=0) == (
        "附近暂时没有可联系的邻居。请立即拨打120急救电话！"
        "暂未联系上社区值班人员，请拨打社区电话：社区值班 0571-8888 0000。"
    )


def test_an_urgent_request_with_nobody_to_ask_is_told_so_at_the_whistle() -> None:
    w = _world()
    w.submit(urgency=Urgency.URGENT, category=Category.ERRAND, skills=(Skill.ERRANDS,))
    event, body = _whistle(w)
    said = texts.update_for(event, whistle_people=1) or ""
    assert said == "附近暂时没有可联系的邻居。已通知社区值班人员协助。"
    assert "拨打120" not in said  # not life-threatening: no number to call
    assert body.neighbours_asked == 0 and body.emergency_number is None


def test_a_whistle_after_neighbours_were_asked_keeps_its_text() -> None:
    w = _world()
    w.helper("h1", skills=(Skill.ERRANDS,))
    w.submit(urgency=Urgency.URGENT, category=Category.ERRAND, skills=(Skill.ERRANDS,))
    w.decline("h1")  # asked, and said no: someone was asked, the rings ran
    event, body = _whistle(w)
    assert body.neighbours_asked == 1
    assert texts.update_for(event, whistle_people=1) == texts.WHISTLE_CALLED


def test_property_offered_beside_the_ladder_is_no_neighbour_asked() -> None:
    """物业 offered in the first wave (`notify_property`) and staff at the whistle are offers
    of the whistle ring: a burst pipe nobody in the community can fix is still "nobody"."""
    w = _world()
    w.helper("wuye", building="0", roles=[Role.PROPERTY_MANAGEMENT])
    w.submit(
        urgency=Urgency.URGENT,
        category=Category.REPAIR,
        skills=(Skill.PLUMBING,),
        notify_property=True,
    )
    assert [o.helper_id for o in w.request().offers] == ["wuye"]
    _, body = _whistle(w)
    assert body.neighbours_asked == 0


def test_the_whistle_keeps_its_earlier_bytes_and_old_events_read_as_unknown() -> None:
    old = (
        '{"type":"whistle_blown","step":3,"staff_helper_ids":[],"broadcast_community_group":true,'
        '"category":"errand","urgency":"normal","building_label":"3号楼","open_slots":1}'
    )
    read = WhistleBlown.model_validate_json(old)
    assert read.neighbours_asked is None and read.emergency_number is None
    assert read.model_dump_json() == old  # left out while unknown
    # Not known: the earlier text, never "nobody".
    assert texts.update_for(event_of(read), whistle_people=1) == texts.WHISTLE_CALLED
    # 0 is news, so it is written (and read back as 0, not as unknown).
    nobody = read.model_copy(update={"neighbours_asked": 0})
    assert '"neighbours_asked":0' in nobody.model_dump_json()
    assert WhistleBlown.model_validate_json(nobody.model_dump_json()).neighbours_asked == 0


# ---------------------------------------------------------------- 2. the repair's last rung


def test_the_repair_rung_sends_the_group_to_property_and_says_nothing_was_handed_on() -> None:
    w = _world()  # nobody: no neighbour, no duty officer, no grid worker
    w.submit(urgency=Urgency.CRITICAL, category=Category.REPAIR, skills=())
    event = _until(w, ReferredToEmergency)
    assert isinstance(event.body, ReferredToEmergency)
    assert event.body.to is ReferralTarget.PROPERTY
    said = texts.update_for(event) or ""
    assert "转交" not in said
    assert said == "暂时没有邻居能及时赶到，请直接联系物业。"
    # Property's own number when configured, the others after it.
    assert texts.update_for(event, [DUTY, WUYE]) == (
        "暂时没有邻居能及时赶到，请直接联系物业：物业服务中心 0571-8666 0000。"
        "也可联系社区值班 0571-8888 0000。"
    )
    assert texts.update_for(event, [DUTY]) == (
        "暂时没有邻居能及时赶到，请直接联系物业。也可联系社区值班 0571-8888 0000。"
    )


def test_a_department_rung_sends_the_group_there_too() -> None:
    body = ReferredToEmergency(to=ReferralTarget.DEPARTMENT, step=4)
    assert texts.update_for(event_of(body), [DUTY]) == (
        "暂时没有邻居能及时赶到，请直接联系相关部门或社区。也可联系社区值班 0571-8888 0000。"
    )


def test_staff_handing_it_to_property_still_says_it_was_handed_on() -> None:
    body = RequestReferred(to=ReferralTarget.PROPERTY)
    assert texts.update_for(event_of(body)) == "求助已转交处理。已转交物业处理。"
