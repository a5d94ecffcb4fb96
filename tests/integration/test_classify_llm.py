"""The optional language-model backend against a real local server speaking the
OpenAI chat-completions protocol: good answers, timeouts, malformed JSON, refusals,
HTTP errors, the cache, and number masking. No Kafka or PostgreSQL needed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.llm_classifier import LlmClassifier, mask_numbers, refine_with_llm
from dispatcher.classify import classify
from dispatcher.settings import Settings
from dispatcher.testing.push_receiver import PushReceiver, Reply, hang, server_error
from schemas.vocab import Urgency

PATH = "/v1/chat/completions"
TIMEOUT = 0.5


def completion(content: str | None, refusal: str | None = None) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        message["refusal"] = refusal
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "qwen-plus",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    return Reply(body=json.dumps(body, ensure_ascii=False).encode())


def answer(**fields: Any) -> Reply:
    return completion(json.dumps(fields, ensure_ascii=False))


@pytest.fixture
async def server() -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as receiver:
        yield receiver


def settings_for(server: PushReceiver, **extra: Any) -> Settings:
    return Settings(
        llm_base_url=server.url("/v1"),
        llm_api_key=SecretStr("sk-test"),
        llm_timeout_seconds=TIMEOUT,
        **extra,
    )


async def test_a_good_answer_raises_urgency_and_the_request_follows_the_protocol(
    server: PushReceiver,
) -> None:
    text = "谁能帮我看看水龙头，一直滴水，我电话13912345678"
    server.script(PATH, answer(is_request=True, category="repair", urgency="urgent"))
    llm = LlmClassifier(settings_for(server))
    try:
        rules = classify(text)
        refined = await llm.refine(text, rules)
    finally:
        await llm.close()
    assert rules.urgency is not Urgency.URGENT and refined.urgency is Urgency.URGENT
    (sent,) = server.for_path(PATH)
    body = sent.json()
    assert sent.method == "POST" and sent.headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "qwen-plus" and body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["role"] == "system"
    assert "13912345678" not in sent.body.decode()  # the phone number never leaves


@pytest.mark.parametrize(
    "reply",
    [
        hang(TIMEOUT * 4),
        completion("这是一条求助消息。"),  # not JSON
        completion('{"is_request": "maybe", "urgency": "very"}'),  # wrong values
        completion(None, refusal="I can't help with that."),
        server_error(500),
        Reply(body=b"not json at all"),
    ],
    ids=["timeout", "prose", "bad-values", "refusal", "http-500", "garbage-body"],
)
async def test_any_failure_leaves_the_rules_answer(server: PushReceiver, reply: Reply) -> None:
    text = "谁能帮我看看水龙头，一直滴水"
    server.script(PATH, reply)
    llm = LlmClassifier(settings_for(server))
    try:
        rules = classify(text)
        assert await llm.refine(text, rules) == rules
    finally:
        await llm.close()


async def test_a_model_cannot_lower_a_red_flag(server: PushReceiver) -> None:
    text = "我老婆懷孕八個月，肚子一陣一陣疼，誰能開車送我們去醫院"
    server.script(PATH, answer(is_request=False, urgency="low", advise_emergency_call=False))
    llm = LlmClassifier(settings_for(server))
    try:
        refined = await llm.refine(text, classify(text))
    finally:
        await llm.close()
    assert refined.urgency is Urgency.CRITICAL and refined.emergency_number == "120"


async def test_answers_are_cached_by_text(server: PushReceiver) -> None:
    text = "谁能帮我搬个柜子"
    server.script(PATH, answer(is_request=True, category="carrying", urgency="urgent"))
    llm = LlmClassifier(settings_for(server))
    try:
        first = await llm.refine(text, classify(text))
        second = await llm.refine(text, classify(text))
    finally:
        await llm.close()
    assert first == second and first.urgency is Urgency.URGENT
    assert len(server.for_path(PATH)) == 1


async def test_off_by_default_sends_nothing(server: PushReceiver) -> None:
    class State:
        pass

    text = "谁能帮我搬个柜子"
    rules = classify(text)
    assert await refine_with_llm(State(), Settings(), text, rules) == rules
    assert server.for_path(PATH) == []


def test_masking_hides_phones_and_place_numbers() -> None:
    # The model's answer has no place field: building and room numbers stay home too.
    assert mask_numbers("住3栋502，电话139-1234-5678") == "住#栋###，电话#############"


async def test_the_api_closes_the_model_client_at_shutdown(server: PushReceiver) -> None:
    """The API opens the backend's client on the first message; its shutdown closes it."""

    class NullSink:
        async def send(self, topic: str, key: str, value: bytes) -> None: ...

        async def check(self) -> None: ...

    # Nothing else in the lifespan may reach a real database: the retention task's
    # connection is refused at once (port 9) and it waits for the next round.
    settings = settings_for(server, pg_dsn=SecretStr("postgresql://x@127.0.0.1:9/x"))
    app = create_app(settings, ApiDeps(settings=settings, sink=NullSink()))
    text = "谁能帮我搬个柜子"
    server.script(PATH, answer(is_request=True, category="carrying", urgency="urgent"))
    async with app.router.lifespan_context(app):
        refined = await refine_with_llm(app.state, settings, text, classify(text))
        llm = app.state.llm
        assert refined.urgency is Urgency.URGENT and not llm._client.is_closed
    assert llm._client.is_closed
