"""A requester's group reply that keeps a request, or takes one back as "撤销求助" (session 42).

1. "别全部取消，摔倒的还需要" / "王奶奶摔倒那条还要，不用全部取消" (answering "如也已不需要，请回复
   “全部取消”") were read as a new fall request and dispatched: the take-back word was
   negated, so the classifier's cancel rule did not apply, and the fall named as the request
   kept ("摔倒" describes distress) made it a request of its own. A sender with a request
   open in the group now hears it goes on, and nothing is dispatched; a red flag or a direct
   ask beside it is still dispatched.
   Then (H13): the classifier took such a reply for no request at all ("kept:"), so from a
   sender with nothing open (their request closed, or never asked), or through
   /v1/messages (no thread of its senders), a fall was silently dropped; and a bare 还没
   ("别取消，水管还没修好") counted as "still wanted". Now the classifier reads the request as
   ever and only marks it ("keeps:", referential forms only: "摔倒的还需要", "那条还要", "摔倒
   的别取消"); the platform route takes it for the request kept only while the sender has
   one open there, else dispatches it.
2. "撤销求助" read as a new request ("求助" is a direct ask, and only "取消" / "撤回" were
   take-back words to the classifier): now it ends the request as "取消求助" does, only as
   said (never negated or asked).
3. One reply ending several requests ("全部取消") posted "求助已取消" once per request: the
   group hears it once now (the newest's end; the others' threads in the group are dropped
   once their commands are queued).

Through the platform route with DingTalk callbacks; PostgreSQL's statements are fakes.
"""

from __future__ import annotations

from typing import Any

import pytest

from dispatcher.classify import classify, rules
from dispatcher.groupchat import texts
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from schemas.commands import CancelRequest, SubmitRequest
from schemas.vocab import Urgency
from tests.support.dingtalk_app import (
    CommandSink,
    bot_app,
    dingtalk_bot,
    group_message,
    post_callback,
)
from tests.support.platform_edge import fake_edge
from tests.support.platform_edge import say as in_group

BOT, GROUP, COMMUNITY = "dt-keeps", "cidGroupKeeps==", "comm-keeps"
FALL, GROCERIES = "req-fall", "req-groceries"
KEEPING = (
    "别全部取消，摔倒的还需要",
    "王奶奶摔倒那条还要，不用全部取消",
    "摔倒的别取消，还需要人",
    "先别撤销求助，摔倒那条还没人来",
)
# Not tied to the request kept (a bare 还没 tells of the situation, not which request): read
# as ever, unmarked, dispatched even from a sender with one open (a duplicate, the safe mistake).
NOT_REFERENTIAL = (
    "别取消，水管还没修好，还在漏水",
    "别取消，我妈又摔倒了还没人来",
)
# A new emergency beside the words (a red flag), a direct ask, or a situation not said to be
# the one still wanted: dispatched, safety first.
STILL_DISPATCHED = (
    "别取消，我妈摔倒了起不来",
    "不用全部取消，我爸又晕倒了叫不醒",
    "别取消，谁能快来帮忙扶一下老人",
    "不用取消，家里水管爆了",
)


@pytest.mark.parametrize("text", KEEPING)
def test_keeping_a_request_reads_the_request_and_marks_it(text: str) -> None:
    """Read as the request it names (so whoever has nothing open is dispatched for it),
    marked for the route that knows the sender's open requests."""
    found = classify(text)
    assert found.is_request and found.urgency is not Urgency.CRITICAL, found
    assert rules.keeps(found), found.reasons
    assert [r for r in found.reasons if r.startswith(rules.KEEPS)], found.reasons
    assert not any(r.startswith("kept:") for r in found.reasons), found.reasons
    assert texts.keeps(text) and not texts.cancels(text, found)


def test_keeping_words_alone_are_marked_and_no_request() -> None:
    found = classify("别全部取消，那条还要")
    assert not found.is_request and not rules.keeps(found), found
    assert rules.KEEPS + "取消" in found.reasons


@pytest.mark.parametrize("text", NOT_REFERENTIAL)
def test_a_bare_still_not_is_no_keeping(text: str) -> None:
    found = classify(text)
    assert found.is_request and not rules.keeps(found), found.reasons
    assert not any(r.startswith(rules.KEEPS) for r in found.reasons), found.reasons


@pytest.mark.parametrize("text", STILL_DISPATCHED)
def test_a_red_flag_or_a_direct_ask_beside_it_is_still_a_request(text: str) -> None:
    found = classify(text)
    assert found.is_request and not rules.keeps(found), found.reasons


@pytest.mark.parametrize("text", KEEPING[:1])
def test_a_keep_raised_to_critical_is_no_keep(text: str) -> None:
    """The floor or the model may raise a marked one: then it is an emergency, dispatched."""
    raised = classify(text).model_copy(update={"urgency": Urgency.CRITICAL})
    assert not rules.keeps(raised)
    called = classify(text).model_copy(update={"advise_emergency_call": True})
    assert not rules.keeps(called)


@pytest.mark.parametrize("text", ["撤销求助", "撤销求助，谢谢", "好的，撤销求助吧"])
def test_taking_it_back_as_revoked_is_a_cancel(text: str) -> None:
    found = classify(text)
    assert not found.is_request, found
    assert texts.cancels(text, found) and not texts.keeps(text)


@pytest.mark.parametrize("text", ["撤销求助吗？", "不要撤销求助", "先别撤销求助"])
def test_revoking_asked_or_negated_cancels_nothing(text: str) -> None:
    found = classify(text)
    assert not found.is_request and not texts.cancels(text, found)


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(sink: CommandSink, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake_edge(monkeypatch, FALL)
    return bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)


def fall_and_groceries(monkeypatch: pytest.MonkeyPatch, grave: set[str]) -> None:
    async def open_requests_of(pool: Any, bot_id: str, group: str, sender: str) -> list[str]:
        return [GROCERIES, FALL] if not sender.startswith(texts.CO_REPORT) else []

    async def grave_among(pool: Any, request_ids: list[str]) -> set[str]:
        return grave & set(request_ids)

    fake_edge(monkeypatch, FALL, {GROCERIES: "errand", FALL: "fall"})  # the fall is kept
    monkeypatch.setattr(threads, "open_requests_of", open_requests_of)
    monkeypatch.setattr(threads, "grave_among", grave_among)


@pytest.mark.parametrize("text", KEEPING[:2])
async def test_keeping_it_ends_nothing_and_dispatches_nothing(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fall_and_groceries(monkeypatch, {FALL})
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "is_request": False,
        "still_open": [GROCERIES, FALL],
        "reply_text": texts.KEPT,
    }
    assert sink.sent == []  # no new fall, nothing cancelled
    assert app.state.group_replies.said == [texts.KEPT]


def nothing_open(monkeypatch: pytest.MonkeyPatch) -> None:
    async def none_open(*args: Any) -> list[str]:
        return []

    monkeypatch.setattr(threads, "open_requests_of", none_open)


@pytest.mark.parametrize("text", [*KEEPING, *NOT_REFERENTIAL])
async def test_keeping_it_with_nothing_open_is_dispatched(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """Nothing of the sender's open here (closed, or never asked): the fall named is one
    nobody is coming to. It was chat, nothing said, nothing dispatched."""
    nothing_open(monkeypatch)
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    assert r.json()["is_request"] is True and r.json()["request_id"], r.text
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]


@pytest.mark.parametrize("text", NOT_REFERENTIAL)
async def test_a_bare_still_not_with_one_open_is_dispatched(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fall_and_groceries(monkeypatch, {FALL})
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200 and r.json()["is_request"] is True, r.text
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]


async def test_keeping_words_alone_with_nothing_open_are_chat(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    nothing_open(monkeypatch)
    r = await in_group(app, BOT, GROUP, "别全部取消，那条还要")
    assert r.status_code == 200, r.text
    assert r.json()["is_request"] is False and r.json().get("reply_text") is None, r.text
    assert sink.sent == [] and app.state.group_replies.said == []


async def test_a_resent_keep_that_was_dispatched_is_not_kept_by_itself(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dispatched with nothing open, then re-sent by the platform: the one open now is the
    message's own request, not one it keeps; the intake answers it (the same request)."""
    own: list[str] = []

    async def opened_by_it(*args: Any) -> list[str]:
        return list(own)

    monkeypatch.setattr(threads, "open_requests_of", opened_by_it)
    resent = group_message("别全部取消，摔倒的还需要", "m-resent", GROUP)
    first = await post_callback(app, BOT, resent)
    assert first.json()["is_request"] is True, first.text
    own.append(first.json()["request_id"])
    again = await post_callback(app, BOT, resent)
    assert again.json()["is_request"] is True, again.text
    assert again.json()["request_id"] == own[0]
    assert texts.KEPT not in app.state.group_replies.said


@pytest.mark.parametrize("text", STILL_DISPATCHED[:2])
async def test_an_emergency_beside_keeping_words_is_dispatched(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fall_and_groceries(monkeypatch, {FALL})
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["is_request"] and out["urgency"] == "critical" and out["advise_emergency_call"]
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]


async def test_revoking_cancels_like_taking_it_back(app: Any, sink: CommandSink) -> None:
    r = await in_group(app, BOT, GROUP, "撤销求助")
    assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": FALL}, r.text
    assert [(type(c.body), c.body.request_id) for c in sink.sent] == [(CancelRequest, FALL)]


async def test_revoking_spares_a_critical_one_among_several(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    fall_and_groceries(monkeypatch, {FALL})
    r = await in_group(app, BOT, GROUP, "撤销求助")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "is_request": False,
        "cancelled": GROCERIES,
        "still_open": [FALL],
        "reply_text": texts.spared(1),
    }
    assert [(type(c.body), c.body.request_id) for c in sink.sent] == [(CancelRequest, GROCERIES)]


async def test_no_thanks_for_one_keeping_the_other_never_ends_the_critical_one(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fall is the sender's only open request: "买菜的不用了" alone would end it (the reply
    can be about nothing else), but "摔倒的别取消" beside it says to keep it."""

    async def grave_among(pool: Any, request_ids: list[str]) -> set[str]:
        return {FALL} & set(request_ids)

    monkeypatch.setattr(threads, "grave_among", grave_among)
    r = await in_group(app, BOT, GROUP, "买菜的不用了，摔倒的别取消")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "is_request": False,
        "still_open": [FALL],
        "reply_text": texts.spared(1, ended=False),
    }
    assert sink.sent == []


# ---------------------------------------------------------------- one reply ending several


async def test_cancelling_all_leaves_the_group_the_newest_end_to_hear(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each end is posted to the threads the loop finds: the older one's is dropped once its
    command is queued, so "求助已取消" is posted once (the newest's), not once per request."""
    fall_and_groceries(monkeypatch, {FALL})
    dropped: list[tuple[str, int]] = []

    async def forget(pool: Any, thread: Thread) -> None:
        dropped.append((thread.request_id, len(sink.sent)))
        assert (thread.bot_id, thread.group_id) == (BOT, GROUP)

    monkeypatch.setattr(threads, "forget", forget)
    r = await in_group(app, BOT, GROUP, "全部取消")
    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, "cancelled": GROCERIES, "also_cancelled": [FALL]}
    assert [(type(c.body), c.body.request_id) for c in sink.sent] == [
        (CancelRequest, GROCERIES),
        (CancelRequest, FALL),
    ]
    assert dropped == [(FALL, 2)]  # after both commands were queued


async def test_one_request_ended_keeps_its_thread(
    app: Any, sink: CommandSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped: list[str] = []

    async def forget(pool: Any, thread: Thread) -> None:
        dropped.append(thread.request_id)

    monkeypatch.setattr(threads, "forget", forget)
    r = await in_group(app, BOT, GROUP, "不用了，谢谢")
    assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": FALL}, r.text
    assert dropped == []
