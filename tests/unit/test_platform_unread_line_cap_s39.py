"""Session 39: while the classifier is stalled, every message a platform forwards is unread
(503 `classify_timeout`), and since a737ea2 each one had its group told the call-now line
("如有人生命危险，请立即拨打120…"): WeCom and DingTalk forward a group's @robot messages,
Feishu every message of the group where the app may read them all (`im:message.group_msg`),
so a stall of a minute in a busy group posted the line dozens of times, teaching the group
to ignore it. Now a group hears it at most once per `DISPATCH_UNREAD_ADVICE_WINDOW_SECONDS`
(`routes.unread_line_due`), each group its own; a message the rules read as
life-threatening always gets its own reply (a re-send of an unread one, once read, too);
the 503 to the platform is unchanged (it re-sends).

Through the platform route with DingTalk callbacks signed as DingTalk signs them
(tests/support/dingtalk_app.py), the classifier never finishing in time
(tests/support/stuck_classifier.py) for every message but those the test lets the rules
read, PostgreSQL's edge faked (tests/support/platform_edge.py), and the rate limiter's
clock the test's own: no sleeps, nothing depends on how fast anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from dispatcher.api import messages
from dispatcher.api.deps import ApiDeps
from dispatcher.api.platforms import routes
from dispatcher.api.ratelimit import RateLimiter
from dispatcher.classify import Classification
from dispatcher.classify import classify as rules
from dispatcher.groupchat.bots import GroupPlace
from dispatcher.record.edge import bot_calls
from dispatcher.record.edge import group_threads as threads
from dispatcher.settings import Settings
from tests.support import dingtalk_app as dingtalk
from tests.support.platform_edge import fake_edge
from tests.support.stuck_classifier import (
    WORDS,
    assert_call_now,
    assert_call_now_reply,
    stuck_classifier,
)

__all__ = ["stuck_classifier"]  # the fixture, shared
BOT, COMMUNITY = "dt-unread-cap", "comm-unread-cap"
BUSY, OTHER = "cidBusyGroup==", "cidOtherGroup=="
CHATTER = ("今天几点停水？", "楼下快递到了吗", "哈哈哈哈", "谁家的猫跑出来了")


class Clock:
    """The rate limiter's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def read() -> set[str]:
    """Texts the rules read in time; every other one stalls (`stuck_classifier`)."""
    return set()


@pytest.fixture
def app(clock: Clock, read: set[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DISPATCH_UNREAD_ADVICE_WINDOW_SECONDS", "60")
    fake_edge(monkeypatch, "req-none")
    stalled = messages.classify  # the route's: the stuck classifier's time limit answers

    async def classify(deps: ApiDeps, text: str) -> Classification:
        return rules(text) if text in read else await stalled(deps, text)

    monkeypatch.setattr(routes, "classify", classify)
    place = GroupPlace(community_id=COMMUNITY, grid_id="g1", compound_id="c1")
    bot = dingtalk.dingtalk_bot(BOT, BUSY, COMMUNITY).model_copy(
        update={"groups": {BUSY: place, OTHER: place}}
    )
    return dingtalk.bot_app(bot, dingtalk.CommandSink(), RateLimiter(clock=clock))


async def unread(app: Any, text: str, message_id: str, group: str) -> None:
    """A message the classifier could not read in time: 503 with the call-now line, as
    before (the platform re-sends it)."""
    r = await dingtalk.post_callback(app, BOT, dingtalk.group_message(text, message_id, group))
    assert r.status_code == 503, r.text
    assert_call_now(r.json()["detail"])


async def test_a_group_hears_one_unread_line_per_window_an_emergency_always_its_own(
    app: Any, clock: Clock, read: set[str]
) -> None:
    said: list[str] = app.state.group_replies.said
    window = app.state.deps.settings.unread_advice_window_seconds
    for n, text in enumerate(CHATTER):  # a busy group's chatter, all unread
        await unread(app, text, f"m-busy-{n}", BUSY)
        clock.now += 1.0
    [line] = said  # one line, not one per message
    assert_call_now_reply(line)

    await unread(app, CHATTER[0], "m-other-0", OTHER)  # another group: its own line
    assert len(said) == 2 and said[1] == line

    await unread(app, WORDS, "m-busy-words", BUSY)  # unread: the busy group heard it just now
    assert len(said) == 2
    read.add(WORDS)  # the platform's re-send is read: life-threatening, its own reply
    r = await dingtalk.post_callback(app, BOT, dingtalk.group_message(WORDS, "m-busy-words", BUSY))
    assert r.status_code == 200, r.text
    assert r.json()["advise_emergency_call"] is True
    assert len(said) == 3 and said[2].startswith("请立即拨打120"), said

    clock.now = 1000.0 + window - 1.0  # still within the window of the busy group's line
    await unread(app, CHATTER[1], "m-busy-late", BUSY)
    assert len(said) == 3
    clock.now = 1000.0 + window + 1.0  # a window later: the stall goes on, told once more
    await unread(app, CHATTER[2], "m-busy-again", BUSY)
    assert len(said) == 4 and said[3] == line


async def test_an_outage_posts_no_line_for_an_ordinary_message_its_own_for_an_emergency(
    app: Any, read: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outage path (`_tell_unrecorded`, UNRECORDED) was already limited where it had to
    be: an ordinary message's 503 carries no line (nothing posted), and a life-threatening
    one's line is never capped, even right after the group heard an unread line."""
    said: list[str] = app.state.group_replies.said
    await unread(app, CHATTER[0], "m-busy-0", BUSY)
    assert len(said) == 1

    async def out_of_reach(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(threads, "record", out_of_reach)  # PostgreSQL out of reach
    monkeypatch.setattr(bot_calls, "release_webhook_id", out_of_reach)
    ordinary, emergency = "3号楼王奶奶需要帮忙买药", "楼下着火了快来人"
    read.update((ordinary, emergency))
    r = await dingtalk.post_callback(app, BOT, dingtalk.group_message(ordinary, "m-o", BUSY))
    assert r.status_code == 503 and "reply_text" not in r.json()["detail"], r.text
    assert len(said) == 1  # an ordinary message: no line
    r = await dingtalk.post_callback(app, BOT, dingtalk.group_message(emergency, "m-e", BUSY))
    assert r.status_code == 503, r.text
    assert said[1:] == [r.json()["detail"]["reply_text"]]  # its own line, not capped
    assert said[1].startswith("请立即拨打119"), said


def test_the_decision_one_line_per_group_per_window() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)

    def due(group: str, window: float = 60.0) -> bool:
        return routes.unread_line_due(limiter, BOT, group, window)

    assert due(BUSY)
    assert not due(BUSY)
    assert due(OTHER)  # each group its own
    clock.now += 59.0
    assert not due(BUSY)
    clock.now += 2.0  # 61 s after the first line
    assert due(BUSY)
    assert not due(BUSY)
    assert routes.unread_line_due(limiter, "another-bot", BUSY, 60.0)  # each bot's group too
    clock.now += 10.0
    assert not due(BUSY, 60.0)
    assert due("third", 5.0) and not due("third", 5.0)
    clock.now += 5.5
    assert due("third", 5.0)


def test_the_window_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.model_fields["unread_advice_window_seconds"].default == 60.0
    monkeypatch.setenv("DISPATCH_UNREAD_ADVICE_WINDOW_SECONDS", "300")
    assert Settings().unread_advice_window_seconds == 300.0
