"""Session 39: a platform message (WeCom, DingTalk, Feishu) the classifier could not read in
time got its 503 `classify_timeout` carrying the call-now reply, but the platform only
re-sends on a 503: the group itself was never told the line, though the message might be
"我爸没有呼吸了". Now the group hears it at once, as it hears a life-threatening message's
call-now reply when PostgreSQL or Kafka is out of reach (`routes._tell_unrecorded`), and
the 503 still makes the platform re-send it (nothing claimed, nothing dispatched).

Through the platform route with a DingTalk callback signed as DingTalk signs it
(tests/support/dingtalk_app.py), the classifier never finishing in time
(tests/support/stuck_classifier.py)."""

from __future__ import annotations

from typing import Any

import pytest

from dispatcher.api.platforms import routes
from tests.support.dingtalk_app import (
    CommandSink,
    bot_app,
    dingtalk_bot,
    group_message,
    post_callback,
)
from tests.support.stuck_classifier import (
    WORDS,
    assert_call_now,
    assert_call_now_reply,
    stuck_classifier,
)

__all__ = ["stuck_classifier"]  # the fixture, shared
BOT, GROUP, COMMUNITY = "dt-unread", "cidGroupUnread==", "comm-unread"


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(sink: CommandSink, monkeypatch: pytest.MonkeyPatch) -> Any:
    claims: list[str] = []

    async def claim(deps: Any, bot_id: str, key: str) -> None:
        claims.append(key)

    monkeypatch.setattr(routes, "claim_webhook_id", claim)  # the replay claim: never reached
    app = bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)
    app.state.claims = claims
    return app


async def test_the_group_of_a_message_not_read_in_time_is_told_to_call(
    app: Any, sink: CommandSink
) -> None:
    r = await post_callback(app, BOT, group_message(WORDS, "m-unread-1", GROUP))
    assert r.status_code == 503, r.text  # the platform re-sends it
    detail = r.json()["detail"]
    assert_call_now(detail)
    [said] = app.state.group_replies.said  # the group hears the line its 503 carries
    assert said == detail["reply_text"]
    assert_call_now_reply(said)
    assert sink.sent == [] and app.state.claims == []  # nothing dispatched, nothing claimed
