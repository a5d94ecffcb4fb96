"""A leader's accept that names members, as the phones hear it (push/deliveries.py): each
member gets a private message of their own - who signed them up, the requester's contact,
their own page's link - never a group; the leader hears who goes and whom no private
message reaches (so the leader tells them)."""

from __future__ import annotations

from schemas.commands import AcceptOffer, UpsertHelper
from schemas.vocab import Category, Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import (
    BASE,
    REQUESTER_PHONE,
    ROBOTS,
    events,
    planner,
    registry,
)


def _member(world: World, helper_id: str, *channels: str, **extra: object) -> None:
    world.helper(helper_id, building="7", compound="far", grid="g9")
    update = {"teams": ("帮帮团",), "channels": channels, "name": f"{helper_id}师傅", **extra}
    profile = world.state.helpers[helper_id].profile.model_copy(update=update)
    world.run(UpsertHelper(profile=profile))


def _signed_up(world: World) -> None:
    world.helper("leader", skills=[Skill.CARRYING])
    profile = world.state.helpers["leader"].profile.model_copy(
        update={"teams": ("帮帮团",), "leads_teams": ("帮帮团",), "name": "陈队长"}
    )
    world.run(UpsertHelper(profile=profile))
    _member(world, "wu")  # no channels: the default private webhook
    _member(world, "zhao", "wecom:grid-3")  # only a group robot: no private message
    world.submit(
        category=Category.CARRYING,
        urgency=Urgency.NORMAL,
        skills=(Skill.CARRYING,),
        helpers_needed=3,
    )
    world.run(
        AcceptOffer(
            request_id="req-1",
            offer_id=world.offer_id("leader"),
            helper_id="leader",
            members=3,
            member_ids=("wu", "zhao"),
        )
    )


def test_a_member_hears_privately_who_signed_them_up_with_their_own_link(world: World) -> None:
    _signed_up(world)
    leader, wu, zhao = events(world, "helper_assigned")
    [d] = planner(world, registry(*ROBOTS)).plan(wu).deliveries
    assert (d.endpoint, d.recipient, d.mentions) == ("default", "wu", ())
    assert "队长陈队长为您报名了这次求助" in d.message.text
    assert REQUESTER_PHONE in d.message.text  # they are assigned: the contact is theirs
    own = f"{BASE}/l/o/accept-req-1-{wu.body.offer_id}-wu"
    assert own in d.message.text and wu.body.offer_id != leader.body.offer_id
    # A member whose only channel is a group robot gets nothing: the contact never goes there.
    planned = planner(world, registry(*ROBOTS)).plan(zhao)
    assert planned.deliveries == [] and "no private channel" in planned.warnings[0]


def test_the_leader_hears_who_goes_and_whom_to_tell_themselves(world: World) -> None:
    _signed_up(world)
    leader = events(world, "helper_assigned")[0]
    [d] = planner(world, registry(*ROBOTS)).plan(leader).deliveries
    assert d.recipient == "leader" and d.message.text.startswith("您已接单")
    assert "同去队员：wu师傅（已各自收到通知）" in d.message.text
    assert "以下队员收不到私信通知，请您转告：zhao师傅" in d.message.text


def test_the_group_hears_once_for_the_team(world: World) -> None:
    from dispatcher.groupchat.texts import update_for

    _signed_up(world)
    texts = [update_for(e) for e in events(world, "helper_assigned")]
    assert texts == ["帮帮团的3位邻居已接单，正在赶来。", None, None]
