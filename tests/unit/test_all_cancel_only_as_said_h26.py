"""Session 41 review of 791e99b: a requester's "全部取消" ends their critical requests only
as the whole reply, and a critical request is kept open by a plain closing reply whichever
of the sender's open requests it is, the newest included.

1. "不要全部取消", "先不要全部取消", "全部取消吗？", "买菜的不用了，摔倒的别全部取消" were
   read as "全部取消" (a search for the words) and stood down the fall the bot's own note had
   just said was kept: now none of them ends it (the last still ends the groceries).
2. A 网格员 relaying groceries at 10:00 and a fall at 10:05 who says "买菜的不用了" meant the
   groceries: the newest was ended whatever it was, the fall with it.

Through the DingTalk route with the fakes of tests/unit/test_cancel_spares_older_emergency_s41.py
(its ids; `app` here: open GROCERIES newest, ERRAND, FALL oldest and critical)."""

from __future__ import annotations

from typing import Any

import pytest

from dispatcher.classify import classify
from dispatcher.groupchat import texts
from dispatcher.record.edge import group_threads as threads
from schemas.commands import CancelRequest, ResolveRequest
from tests.support.dingtalk_app import CommandSink, bot_app, dingtalk_bot
from tests.support.platform_edge import fake_edge
from tests.support.platform_edge import say as in_group
from tests.unit.test_cancel_spares_older_emergency_s41 import (
    BOT,
    ERRAND,
    FALL,
    GROCERIES,
    GROUP,
    ended,
)


def relay(
    monkeypatch: pytest.MonkeyPatch, sink: CommandSink, found: list[str], grave: set[str]
) -> tuple[Any, list[list[str]]]:
    """The route with the sender's open requests `found` (newest first), `grave` the
    critical ones among them; and the lists it asked the gravity of."""
    seen: list[list[str]] = []
    fake_edge(monkeypatch, found[0])

    async def open_requests_of(pool: Any, bot_id: str, group: str, sender: str) -> list[str]:
        return found if not sender.startswith(texts.CO_REPORT) else []

    async def grave_among(pool: Any, request_ids: list[str]) -> set[str]:
        seen.append(request_ids)
        return grave & set(request_ids)

    monkeypatch.setattr(threads, "open_requests_of", open_requests_of)
    monkeypatch.setattr(threads, "grave_among", grave_among)
    return bot_app(dingtalk_bot(BOT, GROUP, "comm-spare"), sink), seen


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, sink: CommandSink) -> Any:
    """Open: the groceries (newest), an errand, the fall (oldest, critical)."""
    return relay(monkeypatch, sink, [GROCERIES, ERRAND, FALL], {FALL})[0]


NEGATED_OR_ASKED = [
    "不要全部取消",
    "不用全部取消",
    "先不要全部取消",
    "别全部取消，摔倒的还需要",
    "不是全部取消，只取消买菜",
    "全部取消吗？",
    "要全部取消吗",
    "全部取消？",
    "王奶奶摔倒那条还要，不用全部取消",
    # the same for the other words that end a request (not in the note, as easily said)
    "不要取消求助",
    "先别取消求助",
    "别撤销求助，还需要",
    "取消求助吗？",
]


@pytest.mark.parametrize("text", NEGATED_OR_ASKED)
async def test_a_negated_or_asked_all_cancel_cancels_nothing(
    app: Any, sink: CommandSink, text: str
) -> None:
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    # (one telling of a fall, "摔倒的还需要", is taken in as a request of its own: not a closing)
    closings = [c.body for c in sink.sent if isinstance(c.body, CancelRequest | ResolveRequest)]
    assert closings == [], (text, closings)
    assert "cancelled" not in r.json()
    assert not texts.ends_all(text)


async def test_the_rest_of_a_reply_that_spares_the_fall_ends_only_the_everyday_ones(
    app: Any, sink: CommandSink
) -> None:
    r = await in_group(app, BOT, GROUP, "买菜的不用了，摔倒的别全部取消")
    assert r.status_code == 200, r.text
    assert ended(sink) == [(CancelRequest, GROCERIES), (CancelRequest, ERRAND)]
    assert r.json()["still_open"] == [FALL]


@pytest.mark.parametrize("text", ["全部取消", "全都取消吧", "好的，全部取消吧，谢谢", "全部都取消"])
async def test_all_cancel_said_as_the_reply_still_ends_the_fall(
    app: Any, sink: CommandSink, text: str
) -> None:
    assert texts.ends_all(text)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    assert ended(sink) == [(CancelRequest, x) for x in (GROCERIES, ERRAND, FALL)]


async def test_a_newest_fall_is_not_ended_by_a_reply_about_older_groceries(
    monkeypatch: pytest.MonkeyPatch, sink: CommandSink
) -> None:
    bot, seen = relay(monkeypatch, sink, [FALL, GROCERIES], {FALL})
    r = await in_group(bot, BOT, GROUP, "买菜的不用了，谢谢")
    assert r.status_code == 200, r.text
    assert ended(sink) == [(CancelRequest, GROCERIES)]
    told = texts.spared(1)
    assert r.json() == {
        "is_request": False,
        "cancelled": GROCERIES,
        "still_open": [FALL],
        "reply_text": told,
    }
    assert bot.state.group_replies.said == [told]
    assert seen == [[FALL, GROCERIES]]


async def test_two_open_falls_are_both_kept_and_the_sender_told_how_to_end_them(
    monkeypatch: pytest.MonkeyPatch, sink: CommandSink
) -> None:
    second = FALL + "-2"
    bot, _ = relay(monkeypatch, sink, [second, FALL], {FALL, second})
    r = await in_group(bot, BOT, GROUP, "不用了，谢谢")
    assert r.status_code == 200, r.text
    assert ended(sink) == []
    told = texts.spared(2, ended=False)
    assert r.json() == {"is_request": False, "still_open": [second, FALL], "reply_text": told}
    assert bot.state.group_replies.said == [told]
    assert "全部取消" in told and "未取消" in told
    r = await in_group(bot, BOT, GROUP, "全部取消")
    assert ended(sink) == [(CancelRequest, second), (CancelRequest, FALL)]


async def test_the_one_open_request_is_ended_whatever_it_is(
    monkeypatch: pytest.MonkeyPatch, sink: CommandSink
) -> None:
    bot, seen = relay(monkeypatch, sink, [FALL], {FALL})
    r = await in_group(bot, BOT, GROUP, "不用了，谢谢")
    assert r.status_code == 200, r.text
    assert ended(sink) == [(CancelRequest, FALL)]
    assert r.json() == {"is_request": False, "cancelled": FALL}
    assert seen == []


@pytest.mark.parametrize(
    "text", ["取消求助", "请取消求助，谢谢", "我要取消求助", "没事，取消求助吧"]
)
def test_take_back_said_is_still_a_closing_reply(text: str) -> None:
    assert texts.cancels(text, classify(text, use_model=False))
