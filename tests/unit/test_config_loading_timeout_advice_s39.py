"""Session 39: before the live configuration is loaded, a chat message is read by the rules
so that a life-threatening one's 503 `config_loading` carries the call-now reply
(tests/integration/test_config_loading_advice_s38.py). When the classifier could not read it
in time, the answer was the plain 503 `config_loading`, no advice, though it might be
"我爸没有呼吸了". It now carries the call-now reply said for the case it is one, as the
classifier's own 503 `classify_timeout` does.

Through the real app (no configuration loaded: no bot is known), with the classifier that
never finishes in time (tests/support/stuck_classifier.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.groupchat.bots import BotRegistry
from dispatcher.settings import Settings
from tests.support.in_process import api_client
from tests.support.stuck_classifier import WORDS, assert_call_now, stuck_classifier
from tests.unit.test_api_emergency_verdicts import Api, Intake, Sink

__all__ = ["stuck_classifier"]  # the fixture, shared


@pytest.fixture
async def loading() -> AsyncIterator[Api]:
    """The API before its configuration is loaded (Kafka, which holds it, out of reach)."""
    settings = Settings()
    sink, intake = Sink(), Intake()
    deps = ApiDeps(settings=settings, sink=sink, bots=BotRegistry.from_list([]))
    deps.config.loaded = False
    deps._pool = intake
    async with api_client(create_app(settings, deps)) as client:
        yield Api(client, sink, intake)


async def test_a_message_not_read_in_time_while_loading_is_503_with_the_call_now_reply(
    loading: Api,
) -> None:
    payload = {"group_id": "grid-1", "message_id": "m1", "sender": {"id": "u1"}, "text": WORDS}
    answer = await loading.bot("/v1/messages", payload)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"  # the configuration's outage answer
    assert_call_now(answer.json()["detail"], reason="config_loading")
    assert loading.sink.sent == [] and loading.intake.rows == {}  # nothing taken in
