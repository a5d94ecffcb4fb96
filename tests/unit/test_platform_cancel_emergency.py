"""A requester's "不用了…" cancels their open request only when the message asks for no
help itself: "不用了，我妈突然晕倒了，没有呼吸了，快来人！" from someone whose errand is
still open is a new emergency (120 first, neighbours dispatched), never a cancel that
swallows it. Plain closing replies still end it: "不用了，谢谢" cancels, "已解决" resolves
(since session 38: a solved request is resolved, never cancelled).

Through the platform route with a DingTalk callback signed as DingTalk's published sample
signs it; PostgreSQL's edge statements are fakes here (tests/integration runs the same
path on the real stack) and the command sink records what would go to Kafka.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dispatcher.classify import classify
from dispatcher.groupchat import texts
from schemas.commands import CancelRequest, ResolveRequest, SubmitRequest
from tests.support.dingtalk_app import (
    CommandSink,
    bot_app,
    dingtalk_bot,
)
from tests.support.platform_edge import fake_edge
from tests.support.platform_edge import say as in_group

BOT, GROUP, COMMUNITY = "dt-cancel", "cidGroupCancel==", "comm-cancel"
OPEN_ERRAND = "req-open-errand"  # the sender asked for medicine five minutes ago
EMERGENCIES = (
    "不用了，我妈突然晕倒了，没有呼吸了，快来人！",
    "已解决了，我爸突然倒地不省人事了",
    "不需要了，我爸胸口剧痛，喘不上气",
    "取消求助，孩子掉进水里了！",
)
PLAIN_CANCELS = ("不用了，谢谢", "已解决", "不用了，已经解决", "已解决，谢谢大家")


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(sink: CommandSink, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake_edge(monkeypatch, OPEN_ERRAND)
    return bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)


async def say(app: Any, text: str) -> httpx.Response:
    return await in_group(app, BOT, GROUP, text)


@pytest.mark.parametrize(("text", "plain"), zip(EMERGENCIES, PLAIN_CANCELS, strict=True))
async def test_an_emergency_beside_a_cancel_word_is_dispatched_a_plain_cancel_cancels(
    app: Any, sink: CommandSink, text: str, plain: str
) -> None:
    found = classify(text)
    assert found.advise_emergency_call and texts.is_cancel_reply(text)  # the trap: both
    r = await say(app, text)
    assert r.status_code == 200, r.text
    out = r.json()
    assert "cancelled" not in out and "resolved" not in out
    assert out["is_request"] and out["urgency"] == "critical" and out["advise_emergency_call"]
    assert out["emergency_number"] == found.emergency_number
    bodies = [c.body for c in sink.sent]
    assert not any(isinstance(b, CancelRequest | ResolveRequest) for b in bodies), bodies
    assert [type(b) for b in bodies] == [SubmitRequest]
    said = app.state.group_replies.said
    assert len(said) == 1 and said[0].startswith(f"请立即拨打{found.emergency_number}")

    # The same sender's plain "不用了，谢谢" still cancels (their latest open request), and
    # "已解决" resolves it.
    r = await say(app, plain)
    assert r.status_code == 200, r.text
    solved = texts.is_solved_reply(plain)
    ended, command = ("resolved", ResolveRequest) if solved else ("cancelled", CancelRequest)
    assert json.loads(r.text) == {"is_request": False, ended: OPEN_ERRAND}
    closing = sink.sent[-1].body
    assert len(sink.sent) == 2 and isinstance(closing, command)
    assert closing.request_id == OPEN_ERRAND


@pytest.mark.parametrize("text", EMERGENCIES)
def test_the_rule_reads_the_classifiers_answer(text: str) -> None:
    assert not texts.cancels(text, classify(text))
    for plain in PLAIN_CANCELS:
        assert texts.cancels(plain, classify(plain))
