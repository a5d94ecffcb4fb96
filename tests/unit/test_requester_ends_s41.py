"""The requester's closing reply in the group (session 41's requester-side audit): the usual
wordings of taking a request back are read ("不用啦，谢谢", "不需要帮忙了，谢谢", "好了，不用来了"
were silence), a question is not ("用不用帮忙" cancelled), an emergency worded with them is
still dispatched; one reply ends every open request of the sender's in the group, each by
its own command with an id derived from the message and the request (a retry half-way
sends the same commands); a reply that finds none of theirs open says so, when the sender
asked here (`group_threads.not_found_due`), instead of silence.

Through the platform route with DingTalk callbacks; PostgreSQL's statements are fakes
(tests/integration/test_requester_ends_s41.py runs the same on the real stack).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dispatcher.api.platforms.routes import closing_command_id
from dispatcher.classify import classify
from dispatcher.groupchat import texts
from dispatcher.record.edge import group_threads as threads
from schemas.commands import CancelRequest, ResolveRequest, SubmitRequest
from tests.support.dingtalk_app import (
    CommandSink,
    bot_app,
    dingtalk_bot,
    group_message,
    post_callback,
)
from tests.support.platform_edge import fake_edge
from tests.support.platform_edge import say as in_group

BOT, GROUP, COMMUNITY = "dt-ends", "cidGroupEnds==", "comm-ends"
NEWER, OLDER = "req-re-posted", "req-first"  # a re-post naming no building: not merged
WORDINGS = (
    "不用啦，谢谢",
    "不需要帮忙了，谢谢",
    "好了，不用来了",
    "不用过来了，谢谢",
    "不用麻烦了，谢谢大家",
    "不需要啦",
)
QUESTIONS = ("需不需要帮忙", "用不用帮忙", "还用不用帮忙啊")
EMERGENCIES = (
    "不用来了，我妈晕倒了，没有呼吸了",
    "不需要帮忙了，我爸突然胸口剧痛喘不上气",
    "好了，不用来了，他又抽搐了叫不醒",
)


@pytest.mark.parametrize("text", WORDINGS)
def test_the_usual_wordings_of_taking_it_back_are_closing_replies(text: str) -> None:
    assert texts.is_cancel_reply(text) and not texts.is_solved_reply(text)
    assert texts.cancels(text, classify(text))


@pytest.mark.parametrize("text", QUESTIONS)
def test_asking_whether_help_is_needed_closes_nothing(text: str) -> None:
    assert not texts.is_cancel_reply(text)


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(sink: CommandSink, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake_edge(monkeypatch, OLDER)
    return bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)


@pytest.mark.parametrize("text", EMERGENCIES)
async def test_an_emergency_worded_with_them_is_dispatched_never_a_cancel(
    app: Any, sink: CommandSink, text: str
) -> None:
    assert texts.is_cancel_reply(text)  # the trap: the words are there
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["is_request"] and out["urgency"] == "critical" and out["advise_emergency_call"]
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]


def two_open(monkeypatch: pytest.MonkeyPatch) -> None:
    async def open_requests_of(pool: Any, bot_id: str, group: str, sender: str) -> list[str]:
        return [NEWER, OLDER] if not sender.startswith(texts.CO_REPORT) else []

    async def grave_among(pool: Any, request_ids: list[str]) -> set[str]:
        return set()  # neither is critical (an older critical one is kept open: H19's test)

    monkeypatch.setattr(threads, "open_requests_of", open_requests_of)
    monkeypatch.setattr(threads, "grave_among", grave_among)


@pytest.mark.parametrize(
    ("text", "command", "ended"),
    [
        ("不用了，谢谢", CancelRequest, "cancelled"),
        ("已经解决了，谢谢邻居", ResolveRequest, "resolved"),
    ],
)
async def test_one_reply_ends_every_open_request_each_by_its_own_command(
    app: Any,
    sink: CommandSink,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    command: type[CancelRequest | ResolveRequest],
    ended: str,
) -> None:
    two_open(monkeypatch)
    message_id = f"m-{uuid.uuid4().hex[:12]}"
    r = await post_callback(app, BOT, group_message(text, message_id, GROUP))
    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, ended: NEWER, f"also_{ended}": [OLDER]}
    assert [(type(c.body), c.body.request_id) for c in sink.sent] == [
        (command, NEWER),
        (command, OLDER),
    ]
    ids = [c.command_id for c in sink.sent]
    assert ids == [closing_command_id(BOT, GROUP, message_id, rid) for rid in (NEWER, OLDER)]
    assert len(set(ids)) == 2


@pytest.mark.parametrize("asked_here", [True, False])
async def test_a_reply_finding_nothing_open_tells_one_who_asked_here(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, asked_here: bool
) -> None:
    async def none_open(*args: Any) -> list[str]:
        return []

    async def not_found_due(pool: Any, bot_id: str, group: str, senders: list[str]) -> bool:
        assert senders == ["staff-001", texts.co_reporter("staff-001")]  # the callback's sender
        return asked_here

    monkeypatch.setattr(threads, "open_requests_of", none_open)
    monkeypatch.setattr(threads, "not_found_due", not_found_due)
    r = await in_group(app, BOT, GROUP, "不用啦，谢谢")
    assert r.status_code == 200, r.text
    told = texts.NO_OPEN_REQUEST if asked_here else None
    assert r.json()["is_request"] is False and r.json()["reply_text"] == told
    assert app.state.group_replies.said == ([told] if told else [])
    assert sink.sent == []
