"""A remote helper whose requester left no phone is not asked to call (session 41, after
701027c/dc388b0).

Before: a platform sender (an id and a name, no phone) got help from a remote helper who was
pushed "请尽快致电求助人，电话指导，无需前往" beside "联系人：…（未留电话）": a call nobody
could make, while the group was told "一位邻居已接单，将在群内联系您。". Now the push agrees
with the group: the helper is asked to reach the requester in the group they asked in.
"""

from __future__ import annotations

from dispatcher.push.messages import AssignmentSpec, render_assignment
from schemas.requests import RequesterContact, RequestSource
from schemas.vocab import Category, Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import ROBOTS, events, planner, registry

IN_GROUP = "求助人未留电话，请在求助的群内@求助人联系，远程指导，无需前往。"
# A group bot's message (chat_spec.spec_for_message): the group the requester asked in.
FROM_GROUP = RequestSource(bot_id="bot-1", group_id="grp-1", message_id="m-1")


def _remote_assignment(
    world: World, contact: RequesterContact, source: RequestSource | None = FROM_GROUP
) -> tuple[str, str]:
    """A nurse far away (remote) accepts a request left with `contact`, from `source`
    (a group, by default): the title and text of the assignment the planner pushes."""
    world.helper("nurse", building="12", compound="other", grid="g2", skills=[Skill.NURSE])
    world.submit(skills=(Skill.DRIVING, Skill.NURSE), contact=contact, source=source)
    world.accept("nurse")
    [assigned] = events(world, "helper_assigned")
    assert assigned.body.remote
    [d] = planner(world, registry(*ROBOTS)).plan(assigned).deliveries
    return d.message.title, d.message.text


def test_a_remote_helper_of_a_requester_without_a_phone_is_sent_to_the_group(
    world: World,
) -> None:
    title, text = _remote_assignment(world, RequesterContact(name="王阿婆"))
    assert "致电" not in title + text, text
    assert "群内@求助人" in text and IN_GROUP in text
    assert title == "接单成功，请在群内联系"
    assert "联系人：王阿婆 （未留电话）" in text
    assert "前往。" not in text.replace("无需前往。", "")  # still never told to come


def test_an_empty_contact_is_no_phone_either(world: World) -> None:
    title, text = _remote_assignment(world, RequesterContact())
    assert "致电" not in title + text and "群内@求助人" in text, text


def test_with_a_phone_the_remote_helper_is_still_asked_to_call(world: World) -> None:
    title, text = _remote_assignment(world, RequesterContact(name="王阿婆", phone="13912345678"))
    assert "请尽快致电求助人，电话指导，无需前往。" in text and "13912345678" in text
    assert title == "接单成功，请尽快致电" and "群内" not in text


def test_an_in_person_helper_without_a_phone_is_promised_no_call() -> None:
    """Going there is still true without a phone; nothing mentions calling."""
    msg = render_assignment(
        AssignmentSpec(
            category=Category.HOSPITAL_TRANSPORT,
            urgency=Urgency.URGENT,
            exact_place="莲花五村3号楼2单元501室",
            contact_phone="（未留电话）",
            contact_name="王阿婆",
            has_phone=False,
        )
    )
    assert msg.title == "接单成功，请尽快前往"
    assert "地点：莲花五村3号楼2单元501室" in msg.text and "请尽快前往。" in msg.text
    assert "致电" not in msg.title + msg.text and "群内" not in msg.text
