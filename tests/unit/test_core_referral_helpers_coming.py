"""The emergency rung on a request a neighbour is already coming to: the group hears that
help is on its way and still to call the number, never "no neighbour can come in time"."""

from __future__ import annotations

from typing import Any

import pytest

from dispatcher.groupchat.texts import update_for
from schemas.commands import AcceptOffer, CompleteAssignment, MarkOnMyWay, UpsertHelper
from schemas.config import Hotline
from schemas.events import Event, ReferredToEmergency
from schemas.vocab import Category, ReferralTarget, Role, Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_groupchat_texts import _event

STAFF: dict[str, Any] = {"building": "9", "compound": "x", "grid": "g9"}


def _fall(world: World, **kw: Any) -> None:
    """A critical fall needing two neighbours (first aid, carrying)."""
    world.helper("staff", roles=[Role.COMMUNITY_STAFF], **STAFF)
    world.submit(
        category=Category.FALL,
        urgency=Urgency.CRITICAL,
        skills=(Skill.FIRST_AID, Skill.CARRYING),
        helpers_needed=kw.pop("helpers_needed", 2),
        **kw,
    )


def _referral(world: World) -> Event:
    while not world.of_type("referred_to_emergency"):
        world.tick()
    (event,) = [e for e in world.events if e.body.type == "referred_to_emergency"]
    return event


def test_a_neighbour_on_the_way_is_counted_and_the_group_still_told_to_call_120(world):
    world.helper("first-aider", skills=[Skill.FIRST_AID])
    _fall(world)
    world.later(10)
    world.accept("first-aider")
    world.later(5)
    world.run(MarkOnMyWay(request_id="req-1", helper_id="first-aider"))
    event = _referral(world)
    assert event.body.helpers_coming == 1
    assert update_for(event) == "已有邻居在路上，但仍请立即拨打120急救电话！"


def test_an_assigned_neighbour_not_yet_set_off_is_coming_too(world):
    world.helper("first-aider", skills=[Skill.FIRST_AID])
    _fall(world)
    world.accept("first-aider")
    assert _referral(world).body.helpers_coming == 1


def test_nobody_assigned_keeps_the_words_nobody_comes(world):
    _fall(world)
    event = _referral(world)
    assert event.body.helpers_coming == 0
    assert update_for(event) == "暂时没有邻居能及时赶到。请立即拨打120急救电话！"


def test_a_nurse_guiding_by_phone_is_not_on_the_way(world):
    world.helper("nurse", building="2", compound="far", grid="g2", skills=[Skill.NURSE])
    world.helper("staff", roles=[Role.COMMUNITY_STAFF], **STAFF)
    world.submit(category=Category.MEDICAL, skills=(Skill.DRIVING, Skill.NURSE))
    world.accept("nurse")
    assert _referral(world).body.helpers_coming == 0


def test_a_helper_done_already_is_not_on_the_way(world):
    world.helper("first-aider", skills=[Skill.FIRST_AID])
    _fall(world)
    world.accept("first-aider")
    world.run(CompleteAssignment(request_id="req-1", helper_id="first-aider"))
    assert _referral(world).body.helpers_coming == 0


def test_a_team_leader_coming_with_a_member_counts_two(world):
    team = {"teams": ("帮帮团",)}
    leader = world.helper("leader", skills=[Skill.CARRYING])
    world.run(UpsertHelper(profile=leader.model_copy(update={**team, "leads_teams": ("帮帮团",)})))
    member = world.helper("member", building="7", compound="far", grid="g9")
    world.run(UpsertHelper(profile=member.model_copy(update=team)))
    _fall(world, helpers_needed=3)
    offer = next(o for o in world.request().offers if o.team_id == "帮帮团")
    world.run(
        AcceptOffer(request_id="req-1", offer_id=offer.offer_id, helper_id="leader", members=2)
    )
    assert _referral(world).body.helpers_coming == 2


@pytest.mark.parametrize(
    ("to", "advice"),
    [
        (ReferralTarget.AMBULANCE, "请立即拨打120急救电话！"),
        (ReferralTarget.POLICE, "请立即拨打110报警！"),
        (ReferralTarget.FIRE, "请立即拨打119！"),
    ],
)
def test_every_number_is_still_advised_with_neighbours_on_the_way(to, advice):
    coming = _event(ReferredToEmergency(to=to, step=5, helpers_coming=2))
    hotline = Hotline(label="社区值班", number="0592-1234567")
    assert update_for(coming) == "已有邻居在路上，但仍" + advice
    assert (
        update_for(coming, [hotline])
        == "已有邻居在路上，但仍" + advice + "也可联系社区值班 0592-1234567。"
    )
    alone = _event(ReferredToEmergency(to=to, step=5))
    assert update_for(alone) == "暂时没有邻居能及时赶到。" + advice


def test_a_handover_to_property_with_a_neighbour_on_the_way():
    body = ReferredToEmergency(to=ReferralTarget.PROPERTY, step=4, helpers_coming=1)
    # The rung hands nothing to property itself (session 40): the group is sent there.
    assert update_for(_event(body)) == "已有邻居在路上。如还需物业处理，请直接联系物业。"


def test_the_referral_keeps_its_earlier_bytes_and_old_json_reads():
    old = '{"type":"referred_to_emergency","to":"120","step":3}'
    read = ReferredToEmergency.model_validate_json(old)
    assert read.helpers_coming == 0
    assert read.model_dump_json() == old  # left out at 0: readers refusing unknown fields
    coming = read.model_copy(update={"helpers_coming": 2})
    assert ReferredToEmergency.model_validate_json(coming.model_dump_json()) == coming
    with pytest.raises(ValueError):
        ReferredToEmergency(to=ReferralTarget.AMBULANCE, step=3, helpers_coming=-1)
