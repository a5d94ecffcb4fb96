"""A requester's "已经解决了，谢谢邻居" in the group resolves their request; "不用了" cancels it.

Before session 38 both were a cancellation (`texts._CANCEL` held 已经解决/已解决/解决了): the
neighbour who had just helped was told "（求助人已取消），无需前往", their 已完成 refused
("本次不记录服务时长") and the month report lost the help and its hours. Now a reply that
says the need was met sends ResolveRequest(by=requester), which leaves the assigned helper
their 已完成 (dispatcher/core/assignment_commands.complete refuses only after a cancellation
or referral); both wordings in one reply ("不用了，已经解决") resolve too.

Through the platform route with DingTalk callbacks signed as DingTalk signs them; the group
threads are fakes here, the command sink records what would go to Kafka
(tests/integration/test_solved_reply_resolves_s38.py runs it on the real stack).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatcher.classify import classify
from dispatcher.groupchat import texts
from schemas.commands import CancelRequest, ResolveRequest
from schemas.vocab import Party
from tests.support.dingtalk_app import CommandSink, bot_app, dingtalk_bot
from tests.support.platform_edge import fake_edge
from tests.support.platform_edge import say as in_group

BOT, GROUP, COMMUNITY = "dt-solved", "cidGroupSolved==", "comm-solved"
OPEN = "req-open-fall"

SOLVED = (
    "已经解决了，谢谢邻居",
    "已解决",
    "已解决，谢谢大家",
    "问题解决了，谢谢",
    "不用了，已经解决",  # both: solved (the need is met; the help may be the neighbour's)
    "不用了，已经解决了，谢谢大家",
)
CANCELLED = ("不用了，谢谢", "不用了", "不需要了，谢谢", "取消求助", "不用帮忙了，谢谢")


@pytest.mark.parametrize("text", SOLVED)
def test_a_solved_reply_closes_as_solved(text: str) -> None:
    assert texts.is_cancel_reply(text) and texts.is_solved_reply(text)
    assert texts.cancels(text, classify(text))  # the classifier sees no request in it


@pytest.mark.parametrize("text", CANCELLED)
def test_a_taken_back_reply_closes_as_cancelled(text: str) -> None:
    assert texts.is_cancel_reply(text) and not texts.is_solved_reply(text)
    assert texts.cancels(text, classify(text))


def test_neither_wording_nor_a_long_message_closes() -> None:
    for text in ("谢谢邻居", "3号楼有老人摔倒了，快来人", "还没解决，请再来人看看"):
        assert not texts.is_cancel_reply(text) and not texts.is_solved_reply(text)
    long = "已经解决了" + "后面是一段很长的别的内容" * 4
    assert not texts.is_cancel_reply(long) and not texts.is_solved_reply(long)


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(sink: CommandSink, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake_edge(monkeypatch, OPEN)
    return bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)


async def say(app: Any, text: str) -> httpx.Response:
    return await in_group(app, BOT, GROUP, text)


@pytest.mark.parametrize("text", SOLVED)
async def test_solved_in_the_group_resolves_by_the_requester(
    app: Any, sink: CommandSink, text: str
) -> None:
    r = await say(app, text)
    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, "resolved": OPEN}
    [command] = sink.sent
    assert isinstance(command.body, ResolveRequest), command.body
    assert command.body.request_id == OPEN and command.body.by is Party.REQUESTER
    assert command.community_id == COMMUNITY


@pytest.mark.parametrize("text", CANCELLED)
async def test_taken_back_in_the_group_still_cancels(
    app: Any, sink: CommandSink, text: str
) -> None:
    r = await say(app, text)
    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, "cancelled": OPEN}
    [command] = sink.sent
    assert isinstance(command.body, CancelRequest), command.body
    assert command.body.request_id == OPEN and command.body.by is Party.REQUESTER
