"""Session 41 (H7 audit finding 3): what a requester with no phone is told.

A group bot's sender (WeCom/DingTalk/Feishu) leaves no phone. The group was told "一位邻居
已接单，将电话联系指导。" / "一位邻居正在电话联系求助人。" and the first reply "请保持电话
畅通": a call nobody could make. Without a phone the remote helper reaches the requester in
the group, and nobody asks them to keep a phone free; with one, the texts are as before.
Each failed on the old code."""

from __future__ import annotations

from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.models import ChatMessageIn
from dispatcher.api.replies import has_phone, merged_reply_text, reply_text
from dispatcher.classify import classify
from dispatcher.groupchat import texts
from dispatcher.groupchat.bots import GroupPlace
from schemas.events import Event, HelperAssigned, HelperSetOff
from schemas.places import PlacePath
from schemas.requests import RequesterContact, RequestSpec
from tests.support.events import event_of


def _event(body: HelperAssigned | HelperSetOff) -> Event:
    return event_of(body, request_id="r1")


def _remote() -> HelperAssigned:
    return HelperAssigned(
        offer_id="o1",
        helper_id="h1",
        slot=0,
        skills=("medical",),
        remote=True,
        place=PlacePath(community_id="c", building_id="b3"),
    )


def test_a_remote_helper_of_a_requester_without_a_phone_reaches_them_in_the_group() -> None:
    accepted = texts.update_for(_event(_remote()), phone=False)
    assert accepted == "一位邻居已接单，将在群内联系您。"
    calling = HelperSetOff(offer_id="o1", helper_id="h1", slot=0, remote=True)
    assert texts.update_for(_event(calling), phone=False) == "一位邻居正在群内联系求助人。"
    for said in (accepted, texts.update_for(_event(calling), phone=False)):
        assert said is not None and "电话" not in said


def test_with_a_phone_the_remote_helper_still_calls() -> None:
    assert texts.update_for(_event(_remote())) == "一位邻居已接单，将电话联系指导。"
    calling = HelperSetOff(offer_id="o1", helper_id="h1", slot=0, remote=True)
    assert texts.update_for(_event(calling), phone=True) == "一位邻居正在电话联系求助人。"


def test_a_helper_coming_in_person_is_told_the_same_either_way() -> None:
    coming = _remote().model_copy(update={"remote": False})
    assert texts.update_for(_event(coming), phone=False) == "一位邻居已接单，正在赶来。"


def _chat_spec(text: str, phone: str | None = None) -> RequestSpec:
    """The chat route's spec (`messages.py`), the sender's phone as given."""
    found = classify(text)
    sender = {"id": "u1", "name": "小林", "phone": phone}
    msg = ChatMessageIn.model_validate(
        {"group_id": "g1", "message_id": "m1", "sender": sender, "text": text}
    )
    place = GroupPlace(community_id="c", compound_id="c1")
    return spec_for_message(msg, found, place, request_id="r1", bot_id="b")


PIPE = "3号楼水管爆了，家里在漏水，谁会修水管？"


def test_the_first_reply_asks_for_a_free_phone_only_of_a_requester_with_one() -> None:
    without = _chat_spec(PIPE)
    assert not has_phone(without)
    assert "电话畅通" not in reply_text(without)
    assert "电话畅通" not in merged_reply_text(without)
    assert "电话畅通" not in merged_reply_text(without, helpers_assigned=1)
    with_one = _chat_spec(PIPE, phone="13912345678")
    assert has_phone(with_one)
    assert reply_text(with_one).endswith("请保持电话畅通。")
    assert merged_reply_text(with_one, helpers_assigned=1).endswith("请保持电话畅通。")
    # Sealed (the contact emptied), its keyed digest still says one was left.
    sealed = with_one.model_copy(
        update={"contact": RequesterContact(), "requester_phone_key": "pk1:abc"}
    )
    assert has_phone(sealed)
