"""What the asking group is told is what happened (session 39).

1. A cancellation says "已通知邻居不必前往" only when the cancellation stood someone down (an
   open offer or an assignment: `OffersStoodDown(reason="cancelled")` in its decision);
   held for quiet hours, or with no offer out, the group hears "求助已取消。". Before: the
   neighbours' line for every cancellation.
2. The requester's "修好了" / "搞定了" / "弄好了" / "没事了，已经好了" resolve their request as
   "已经解决了" does; questions ("修好了吗？") and negations ("还没修好", "没搞定") do not.
   Before: only 已经解决/已解决/解决了, and "解决了吗" resolved.
3. The whistle's "已通知社区值班人员协助" counts only the contacts whose area covers the
   request's place (its group's, down to the building its label names). Before: a contact
   for another building counted.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from dispatcher.api.chat_spec import place_for
from dispatcher.classify import classify
from dispatcher.groupchat import texts
from dispatcher.groupchat.bots import GroupPlace, place_of_label
from dispatcher.groupchat.loop import GroupReplies, whistle_people
from dispatcher.push.endpoints import EndpointConfig, EndpointRegistry
from schemas.commands import CancelRequest
from schemas.config import Hotline, WhistleRecipient
from schemas.events import (
    Event,
    EventBody,
    OffersSent,
    OffersStoodDown,
    RequestCancelled,
    StoodDown,
    WaveOffer,
    WhistleBlown,
)
from schemas.places import PlacePath
from schemas.vocab import Category, Party, Ring, Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_group_texts_truth_s38 import Pool, Sender

DUTY = [Hotline(label="社区值班", number="0571-8888 0000")]
COMPOUND = GroupPlace(community_id="c", grid_id="g1", compound_id="c1", compound_name="图强小区")


def _event(body: EventBody, event_id: str = "e1", caused_by: str = "cmd") -> Event:
    return Event(
        event_id=event_id,
        community_id="c",
        request_id="req-1",
        occurred_at=datetime.now(UTC),
        caused_by=caused_by,
        body=body,
    )


async def _heard(events: list[Event], **options: Any) -> list[str]:
    pool, sender = Pool(claimed=False), Sender()

    async def get() -> Pool:
        return pool

    g = GroupReplies(sender, get, hotlines=lambda community_id: DUTY, **options)  # type: ignore[arg-type]
    g._last_purge = time.monotonic()  # no purge in this stand-in
    try:
        await g.handle(events)
        await asyncio.sleep(0.3)  # a wave settles
        await g.handle([])
        for _ in range(100):
            if not g._tasks:
                break
            await asyncio.sleep(0.01)
    finally:
        await g.close()
    return sender.sent


# ---------------------------------------------------------------- 1. the cancellation


def _cancel(w: World) -> list[Event]:
    """The requester's cancellation: its decision's events (the one record the loop reads)."""
    return list(w.run(CancelRequest(request_id="req-1", by=Party.REQUESTER)).events)


async def test_a_request_cancelled_before_any_offer_is_not_said_to_have_stood_anyone_down() -> None:
    w = World()  # nobody on the roster: no offer goes out
    w.submit(category=Category.ERRAND, urgency=Urgency.NORMAL, skills=(Skill.ERRANDS,))
    assert not w.offered()
    decision = _cancel(w)
    assert any(isinstance(e.body, RequestCancelled) for e in decision)
    assert not any(isinstance(e.body, OffersStoodDown) for e in decision)
    assert await _heard(decision, clock=lambda: w.now) == ["求助已取消。"]


async def test_a_cancellation_that_stood_neighbours_down_says_they_were_told() -> None:
    w = World()
    w.helper("h1", skills=(Skill.ERRANDS,))
    w.submit(category=Category.ERRAND, urgency=Urgency.NORMAL, skills=(Skill.ERRANDS,))
    assert w.offered() == ["h1"]
    decision = _cancel(w)
    assert any(isinstance(e.body, OffersStoodDown) for e in decision)
    assert await _heard(decision, clock=lambda: w.now) == ["求助已取消，已通知邻居不必前往。"]


async def test_a_cancellation_after_every_offer_ended_stood_nobody_down() -> None:
    w = World()
    w.helper("h1", skills=(Skill.ERRANDS,))
    w.submit(category=Category.ERRAND, urgency=Urgency.NORMAL, skills=(Skill.ERRANDS,))
    w.decline("h1")  # the only neighbour said no: nobody is on the way or holds an offer
    decision = _cancel(w)
    assert not any(isinstance(e.body, OffersStoodDown) for e in decision)
    assert await _heard(decision, clock=lambda: w.now) == ["求助已取消。"]


async def test_offers_still_being_folded_are_stood_down_by_the_cancellation() -> None:
    wave = OffersSent(
        step=1,
        expires_at=datetime.now(UTC),
        category=Category.ERRAND,
        urgency=Urgency.NORMAL,
        building_label="3号楼",
        helpers_needed=1,
        offers=(
            WaveOffer(offer_id="o1", helper_id="h1", ring=Ring.BUILDING, skills=(), remote=False),
        ),
    )
    stood = OffersStoodDown(reason="cancelled", offers=(StoodDown(offer_id="o1", helper_id="h1"),))
    cancelled = RequestCancelled(by=Party.REQUESTER)
    sent = await _heard(
        [
            _event(wave, "e1", "cmd-a"),
            _event(stood, "e2", "cmd-b"),
            _event(cancelled, "e3", "cmd-b"),
        ]
    )
    assert sent == ["已通知1位附近邻居，请稍候。", "求助已取消，已通知邻居不必前往。"]


def test_the_text_follows_what_the_cancellation_did() -> None:
    cancelled = _event(RequestCancelled(by=Party.REQUESTER))
    assert texts.update_for(cancelled, stood_down=False) == "求助已取消。"
    assert texts.update_for(cancelled, stood_down=True) == "求助已取消，已通知邻居不必前往。"


# ---------------------------------------------------------------- 2. "修好了" resolves

SOLVED = (
    "修好了",
    "修好了，谢谢",
    "水管修好了，谢谢邻居",
    "搞定了",
    "搞定啦，谢谢大家！",
    "弄好了",
    "邻居帮忙弄好了，谢谢",
    "已经好了",
    "没事了，已经好了",
    "没事了",
    "处理好了，谢谢",
    "已经处理好了",
    "办好了",
    "已修复",
    "不用了，修好了",
)
NOT_SOLVED = (
    "还没修好",
    "没搞定",
    "没有弄好",
    "修好了吗？",
    "修好了吗",
    "已经修好了吗",
    "搞定了没",
    "修好了没有",
    "是不是修好了",
    "好了吗？",
    "你没事了吧",
    "快修好了",
    "马上就修好了",
    "应该修好了吧",
    "等修好了再说",
    "修不好了",
    "搞不定了",
    "解决了吗",
    "问题解决了吗？",
    "已经解决不了",
    "请帮忙解决一下",
    "水管还在漏，没修好",
)


@pytest.mark.parametrize("text", SOLVED)
def test_done_in_other_words_resolves(text: str) -> None:
    assert texts.is_solved_reply(text) and texts.is_cancel_reply(text)
    assert texts.cancels(text, classify(text))  # the classifier sees no request in it


@pytest.mark.parametrize("text", NOT_SOLVED)
def test_asked_or_not_yet_done_closes_nothing(text: str) -> None:
    assert not texts.is_solved_reply(text) and not texts.is_cancel_reply(text)


def test_taken_back_and_done_in_one_reply_is_solved_and_not_yet_done_is_a_cancel() -> None:
    assert texts.is_solved_reply("不用了，搞定了")
    # "不用了" still takes it back; "还没修好" adds no solved.
    assert texts.is_cancel_reply("不用了，还没修好") and not texts.is_solved_reply(
        "不用了，还没修好"
    )


# ---------------------------------------------------------------- 3. the whistle's place


def _endpoint(name: str) -> EndpointConfig:
    return EndpointConfig(name=name, kind="wecom", url="http://wecom.test/send", token="KEY")


REGISTRY = EndpointRegistry([_endpoint("community-c"), _endpoint("b5-keeper")])
B5 = WhistleRecipient(role="property", name="5号楼管家", endpoint="b5-keeper", building_id="b5")


def _count(place: PlacePath | None) -> int:
    return whistle_people("c", REGISTRY, {"b5-keeper": "c"}.get, [B5], place)


def test_a_contact_for_another_building_is_nobody_called() -> None:
    at_b3 = PlacePath(community_id="c", grid_id="g1", compound_id="c1", building_id="b3")
    assert _count(at_b3) == 0
    assert _count(at_b3.model_copy(update={"building_id": "b5"})) == 1
    assert _count(None) == 1  # place unknown: the whole list


@pytest.mark.parametrize(
    ("group", "said", "building"),
    [
        (COMPOUND, "3号楼有老人摔倒了", "b3"),
        (COMPOUND, "A座电梯困人了", "bA"),
        (COMPOUND, "小区门口有人晕倒了", None),
        (COMPOUND.model_copy(update={"buildings": {"7": "bld-seven"}}), "7号楼漏水", "bld-seven"),
        (COMPOUND.model_copy(update={"compound_name": None}), "3号楼有老人摔倒了", "b3"),
        (
            COMPOUND.model_copy(update={"building_id": "b9", "building_name": "9号楼"}),
            "有老人摔倒了",
            "b9",
        ),
    ],
)
def test_the_request_place_is_found_again_from_its_label(
    group: GroupPlace, said: str, building: str | None
) -> None:
    """`place_of_label` undoes `chat_spec.place_for`'s label for the group's requests."""
    raised = place_for(group, classify(said))
    assert raised.building_id == building
    found = place_of_label(group, raised.building_label())
    assert (found.grid_id, found.compound_id, found.building_id) == (
        raised.grid_id,
        raised.compound_id,
        raised.building_id,
    )


def _whistle(label: str) -> WhistleBlown:
    return WhistleBlown(
        step=3,
        staff_helper_ids=(),
        category=Category.ERRAND,
        urgency=Urgency.NORMAL,
        building_label=label,
        open_slots=1,
    )


async def test_the_loop_counts_only_contacts_covering_the_requests_place() -> None:
    options = {
        "whistle_people": lambda community_id, place=None: _count(place),
        "group_place": lambda bot_id, group_id: (
            COMPOUND if (bot_id, group_id) == ("bot", "g1") else None
        ),
    }
    nobody = await _heard([_event(_whistle("图强小区 3号楼"))], **options)
    assert nobody == ["暂未联系上社区值班人员，请拨打社区电话：社区值班 0571-8888 0000。"]
    called = await _heard([_event(_whistle("图强小区 5号楼"))], **options)
    assert called == ["已通知社区值班人员协助。"]
