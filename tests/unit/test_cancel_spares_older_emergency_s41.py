"""A requester's closing reply ends their newest open request in the group, and older ones
only when they are not critical (session 41 review of 5f6bd9a, after H15's test). A 网格员
or staff member relays several residents' needs in one group (a fall at 10:00, groceries at
10:05); "不用了，谢谢" about the groceries must not cancel the fall and stand its helpers
down. The fall stays open, the group is told so, and "全部取消" ends it too.

Through the platform route with DingTalk callbacks; PostgreSQL's statements are fakes
(tests/integration/test_cancel_spares_emergency_s41.py runs it on the real stack)."""

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

BOT, GROUP, COMMUNITY = "dt-spare", "cidGroupSpare==", "comm-spare"
GROCERIES, ERRAND, FALL = "req-groceries-newest", "req-errand-older", "req-fall-older-critical"


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Open: the groceries (newest), an older errand, the fall (oldest, critical). Records
    which requests the route asked the gravity of."""
    seen: list[list[str]] = []
    fake_edge(monkeypatch, GROCERIES)

    async def open_requests_of(pool: Any, bot_id: str, group: str, sender: str) -> list[str]:
        return [GROCERIES, ERRAND, FALL] if not sender.startswith(texts.CO_REPORT) else []

    async def grave_among(pool: Any, request_ids: list[str]) -> set[str]:
        seen.append(request_ids)
        return {FALL} & set(request_ids)

    monkeypatch.setattr(threads, "open_requests_of", open_requests_of)
    monkeypatch.setattr(threads, "grave_among", grave_among)
    return seen


@pytest.fixture
def app(sink: CommandSink, asked: list[list[str]]) -> Any:
    return bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)


def ended(sink: CommandSink) -> list[tuple[type, str]]:
    return [(type(c.body), c.body.request_id) for c in sink.sent]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "command", "done"),
    [
        ("不用了，谢谢", CancelRequest, "cancelled"),
        ("已经解决了，谢谢", ResolveRequest, "resolved"),
    ],
)
async def test_a_reply_about_the_newest_request_leaves_an_older_emergency_open(
    app: Any, sink: CommandSink, asked: list[list[str]], text: str, command: type, done: str
) -> None:
    r = await in_group(app, BOT, GROUP, text)
    assert r.status_code == 200, r.text
    assert ended(sink) == [(command, GROCERIES), (command, ERRAND)]
    told = texts.spared(1)
    assert r.json() == {
        "is_request": False,
        done: GROCERIES,
        f"also_{done}": [ERRAND],
        "still_open": [FALL],
        "reply_text": told,
    }
    assert app.state.group_replies.said == [told]
    assert "全部取消" in told and "紧急" in told
    assert asked == [[GROCERIES, ERRAND, FALL]]  # the newest too (review of 791e99b)


async def test_all_cancelled_ends_the_older_emergency_too(
    app: Any, sink: CommandSink, asked: list[list[str]]
) -> None:
    assert texts.cancels("全部取消", classify("全部取消"))
    r = await in_group(app, BOT, GROUP, "全部取消")
    assert r.status_code == 200, r.text
    assert ended(sink) == [(CancelRequest, x) for x in (GROCERIES, ERRAND, FALL)]
    assert r.json() == {
        "is_request": False,
        "cancelled": GROCERIES,
        "also_cancelled": [ERRAND, FALL],
    }
    assert app.state.group_replies.said == [] and asked == []


def test_the_note_counts_what_is_still_open() -> None:
    assert texts.spared(1).startswith("另有一条紧急求助") and texts.spared(2).startswith("另有2条")
    assert texts.ends_all("全都取消吧") and not texts.ends_all("不用了，谢谢")
