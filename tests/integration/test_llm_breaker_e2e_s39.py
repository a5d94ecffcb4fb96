"""Session 39: the language model's circuit breaker against a real local server speaking
the chat-completions protocol, with a clock the test sets (no sleeps, no timing asserted).
Before it, every unsure chat message waited the model's full timeout for as long as it was
down. Now, after `llm_breaker_failures` failures in a row the next messages get the rules'
answer without the server being asked; after the cool-off one message probes it, and its
answer closes the circuit. No Kafka or PostgreSQL needed."""

from __future__ import annotations

import logging

import pytest

from dispatcher.api.llm_classifier import LlmClassifier, refine_with_llm
from dispatcher.classify import classify
from dispatcher.ops.api_metrics import REGISTRY
from dispatcher.testing.push_receiver import PushReceiver, Reply, hang, server_error
from schemas.vocab import Urgency
from tests.integration.test_classify_llm import PATH, TIMEOUT, answer, server, settings_for
from tests.unit.test_llm_classifier_f1 import State
from tests.unit.test_push_lane_budgets import Clock

__all__ = ["server"]  # the fixture, shared

FAILURES = 3
COOL_OFF = 30.0
# Ordinary, unsure messages (no red flag: the model would be asked), all different (no
# answer comes from the cache); each carries a phone that must never reach a log line.
TEXTS = [f"谁能帮我搬个柜子，第{n}次问了，电话1391234567{n}" for n in range(10)]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    "failure",
    [server_error(503), Reply(body=b"not json at all"), hang(TIMEOUT * 4)],
    ids=["http-503", "unreadable", "timeout"],
)
async def test_after_n_failures_the_model_is_skipped_until_one_probe_answers(
    server: PushReceiver, failure: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dispatcher.api.llm_classifier")
    settings = settings_for(
        server, llm_breaker_failures=FAILURES, llm_breaker_cool_off_seconds=COOL_OFF
    )
    clock = Clock()
    state = State()
    state.llm = LlmClassifier(settings, clock=clock)
    skipped = metric("dispatch_llm_classify_breaker_skipped_total")
    opened = metric("dispatch_llm_classify_breaker_transitions_total", to="open")
    closed = metric("dispatch_llm_classify_breaker_transitions_total", to="closed")
    server.set_default(PATH, failure)
    texts = iter(TEXTS)

    async def message() -> tuple[str, object]:
        text = next(texts)
        rules = classify(text)
        assert not rules.advise_emergency_call  # the model would be asked
        return text, await refine_with_llm(state, settings, text, rules) == rules

    try:
        for _ in range(FAILURES):
            assert (await message())[1] is True  # the rules' answer stands
        assert len(server.for_path(PATH)) == FAILURES
        assert metric("dispatch_llm_classify_breaker_open") == 1.0

        # Open: answered by the rules at once, the server not asked.
        assert (await message())[1] is True
        clock.now += COOL_OFF - 0.001
        assert (await message())[1] is True
        assert len(server.for_path(PATH)) == FAILURES
        assert metric("dispatch_llm_classify_breaker_skipped_total") == skipped + 2

        # The cool-off over: one probe goes through; the model answers, the circuit closes.
        clock.now += 0.001
        server.set_default(PATH, answer(is_request=True, category="carrying", urgency="urgent"))
        text = next(texts)
        refined = await refine_with_llm(state, settings, text, classify(text))
        assert refined.urgency is Urgency.URGENT  # the model's answer was used
        assert len(server.for_path(PATH)) == FAILURES + 1
        assert metric("dispatch_llm_classify_breaker_open") == 0.0
        await message()  # closed: the model is asked again
        assert len(server.for_path(PATH)) == FAILURES + 2
    finally:
        await state.llm.close()

    assert metric("dispatch_llm_classify_breaker_transitions_total", to="open") == opened + 1
    assert metric("dispatch_llm_classify_breaker_transitions_total", to="closed") == closed + 1
    said = [r.getMessage() for r in caplog.records if "circuit" in r.getMessage()]
    assert len(said) == 2 and "circuit open" in said[0] and "circuit closed" in said[1], said
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "1391234567" not in logged and "柜子" not in logged  # nothing of the messages


async def test_a_failed_probe_keeps_it_open_for_another_cool_off(server: PushReceiver) -> None:
    settings = settings_for(
        server, llm_breaker_failures=FAILURES, llm_breaker_cool_off_seconds=COOL_OFF
    )
    clock = Clock()
    llm = LlmClassifier(settings, clock=clock)
    server.set_default(PATH, server_error(500))
    try:
        for text in TEXTS[: FAILURES + 1]:
            await llm.refine(text, classify(text))
        assert len(server.for_path(PATH)) == FAILURES
        clock.now += COOL_OFF
        await llm.refine(TEXTS[5], classify(TEXTS[5]))  # the probe, failing
        await llm.refine(TEXTS[6], classify(TEXTS[6]))  # open again: not asked
        assert len(server.for_path(PATH)) == FAILURES + 1
        clock.now += COOL_OFF
        await llm.refine(TEXTS[7], classify(TEXTS[7]))  # the next probe
        assert len(server.for_path(PATH)) == FAILURES + 2
    finally:
        await llm.close()
