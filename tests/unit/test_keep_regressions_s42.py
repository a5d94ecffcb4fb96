"""Keep words (session 42, review R2 of e01ebce + ba44ed9), through the DingTalk route with
PostgreSQL's statements faked.

1. A new situation beside keep words was swallowed: "那条别取消，孩子发高烧了" with a grocery
   request open answered "仍在进行" and dispatched nothing (the route kept whenever the
   sender had ANY request open). Now kept only by an open request of the message's own
   category, and never with news of a new occurrence (也/又/另外/还有…).
2. The sender's only open critical request was not ended by an unpunctuated "不用了取消吧" /
   "我妈没事了取消吧": any 不/没 earlier in the clause negated 取消, so the reply read as
   keeping one and spared the critical request. Now the negator must be bound to the
   take-back word ("别取消", "不用全部取消")."""

from __future__ import annotations

from typing import Any

import pytest

from dispatcher.groupchat import texts
from dispatcher.record.edge import group_threads as threads
from schemas.commands import CancelRequest, ResolveRequest, SubmitRequest
from tests.support.dingtalk_app import CommandSink, bot_app, dingtalk_bot
from tests.support.platform_edge import fake_edge
from tests.support.platform_edge import say as in_group

BOT, GROUP, COMMUNITY = "dt-r2keeps", "cidGroupR2Keeps==", "comm-r2keeps"
GROCERIES, FALL, FEVER = "req-groceries-r2", "req-fall-r2", "req-fever-r2"
BLEEDING = "req-bleeding-fall-r2"  # a fall with a head wound: recorded medical
CATEGORIES = {GROCERIES: "errand", FALL: "fall", FEVER: "medical", BLEEDING: "medical"}

NEW_SITUATIONS = (
    "那条别取消，楼下李爷爷也摔倒了",  # another person fell ("也")
    "那条别取消，孩子发高烧了",  # a child's fever, not the groceries
    "那条先别取消，现在又漏水了",  # a new leak
)


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(sink: CommandSink, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake_edge(monkeypatch, GROCERIES, CATEGORIES)
    return bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)


def open_ones(monkeypatch: pytest.MonkeyPatch, *request_ids: str) -> None:
    async def open_requests_of(*args: Any) -> list[str]:
        return list(request_ids)

    monkeypatch.setattr(threads, "open_requests_of", open_requests_of)


@pytest.mark.parametrize("text", NEW_SITUATIONS)
async def test_a_new_situation_beside_keep_words_is_dispatched_with_groceries_open(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    open_ones(monkeypatch, GROCERIES)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    # The new urgent situation is dispatched (a duplicate is the safe mistake).
    assert r.json().get("is_request") is True, r.text
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]
    assert texts.KEPT not in app.state.group_replies.said


@pytest.mark.parametrize("text", ["那条别取消，楼下李爷爷也摔倒了", "别取消那条，另外我爸摔倒了"])
async def test_another_fall_beside_keep_words_is_dispatched_with_a_fall_open(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """Same category, but news of a new occurrence: not the fall kept."""
    open_ones(monkeypatch, FALL)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200 and r.json().get("is_request") is True, r.text
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]


@pytest.mark.parametrize("text", ["别全部取消，摔倒的还需要", "摔倒的别取消，还需要人"])
async def test_the_fall_kept_with_groceries_and_fall_open_is_kept(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    open_ones(monkeypatch, GROCERIES, FALL)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "is_request": False,
        "still_open": [GROCERIES, FALL],
        "reply_text": texts.KEPT,
    }
    assert sink.sent == [] and app.state.group_replies.said == [texts.KEPT]


@pytest.mark.parametrize("text", ["别全部取消，摔倒的还需要", "王奶奶摔倒那条还要，不用全部取消"])
async def test_the_fall_said_of_the_request_kept_keeps_one_recorded_medical(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """A fall raised by a red flag ("头在流血") is recorded medical: "摔倒的还需要" names it."""
    open_ones(monkeypatch, BLEEDING)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, "still_open": [BLEEDING], "reply_text": texts.KEPT}
    assert sink.sent == []


@pytest.mark.parametrize(
    "text", ["那条别取消，我爸摔倒了腿动不了", "别取消那条，隔壁王奶奶摔倒了起不来"]
)
async def test_a_fall_told_beside_keep_words_with_a_fever_open_is_dispatched(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """The fall is news beside the keep words, not said of the request kept: the medical
    one open (a fever) does not keep it."""
    open_ones(monkeypatch, FEVER)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200 and r.json().get("is_request") is True, r.text
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]
    assert texts.KEPT not in app.state.group_replies.said


@pytest.mark.parametrize(
    "text", ["不用了取消吧", "我妈没事了取消吧", "不需要了取消", "没事了 取消", "已经没事了请取消"]
)
async def test_the_sole_open_critical_request_is_ended(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    async def grave_among(pool: Any, request_ids: list[str]) -> set[str]:
        return {FALL} & set(request_ids)

    open_ones(monkeypatch, FALL)
    monkeypatch.setattr(threads, "grave_among", grave_among)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    out = r.json()
    assert FALL in (out.get("cancelled"), out.get("resolved")), r.text  # ended, either way
    assert [type(c.body) for c in sink.sent] in ([CancelRequest], [ResolveRequest])


@pytest.mark.parametrize(
    "text",
    ["别全部取消，摔倒的还需要", "买菜的不用了，摔倒的别取消", "不用全部取消", "先别撤销求助"],
)
def test_a_negator_bound_to_the_take_back_word_keeps(text: str) -> None:
    assert texts.keeps_some(text)


@pytest.mark.parametrize(
    "text", ["不用了取消吧", "我妈没事了取消吧", "不需要了取消", "没事了 取消", "已经没事了请取消"]
)
def test_a_closed_no_thanks_before_the_take_back_word_keeps_nothing(text: str) -> None:
    assert not texts.keeps_some(text)
