"""A bad record is acknowledged only once its dead letter is in Kafka: the sink waits for
the letter's acknowledgement (Faust's `topic.send` only buffers it and returns its future).
A send Kafka may yet take (the broker away, a leader moving, the topic refusing this
principal) is tried again, then the worker exits 75 with the record unacknowledged, read
again after the restart; a letter too large for the topic (it carries the record base64)
goes again without the payload, its reason saying so. Before session 37 the sink never
awaited the future and swallowed any failure with a log line: the agent then acknowledged
the bad record with no letter in Kafka, a silent drop."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)

from schemas.dead_letter import DeadLetter
from streams.dead_letter import DeadLetterSink
from streams.runtime import Stats
from tests.unit.test_send_failure_not_dead_lettered_s37 import Exited, no_exit, refused

__all__ = ["no_exit"]  # os._exit raising Exited, autouse here too


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 7, tzinfo=UTC)


class Record:
    topic, partition, offset, key, value = "dispatch.commands", 3, 17, b"c1", b"\xff not json"


class Topic:
    """The dead-letter topic as Faust's: `send` buffers the letter and returns its future,
    which Kafka settles later (here on the loop's next turns). `fail(letter, attempt)` gives
    the error Kafka settles an attempt with, or None for an acknowledgement; `raises` makes
    the send itself raise it (refused before buffering, as aiokafka's size check)."""

    def __init__(
        self, fail: Callable[[DeadLetter, int], BaseException | None], raises: bool = False
    ) -> None:
        self.fail, self.raises = fail, raises
        self.tries: list[DeadLetter] = []
        self.futures: list[asyncio.Future[None]] = []
        self.acked: list[DeadLetter] = []

    async def send(self, key: Any, value: bytes) -> asyncio.Future[None]:
        letter = DeadLetter.model_validate_json(value)
        self.tries.append(letter)
        error = self.fail(letter, len(self.tries))
        if error is not None and self.raises:
            raise error
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Its error marked as read: the sink before session 37 never awaited the future, and
        # the "exception never retrieved" log of its garbage collection, run amid pytest's
        # failure report, broke that report (CPython 3.11's AST recursion check).
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.futures.append(fut)

        def settle() -> None:
            if error is None:
                self.acked.append(letter)
                fut.set_result(None)
            else:
                fut.set_exception(error)

        loop = asyncio.get_running_loop()
        loop.call_soon(lambda: loop.call_soon(settle))  # not before the sender moves on
        return fut


def sink(topic: Topic) -> DeadLetterSink:
    made = DeadLetterSink(topic, Stats(), Clock())
    made.retry_delays = (0.0, 0.0)  # set after: the sink before session 37 had none
    return made


async def test_send_returns_once_the_letter_is_acknowledged() -> None:
    topic = Topic(lambda letter, attempt: None)
    await sink(topic).send(Record(), "undecodable command", "decode")
    assert [f.done() for f in topic.futures] == [True]
    [letter] = topic.acked
    assert (letter.source_topic, letter.partition, letter.offset) == ("dispatch.commands", 3, 17)
    assert base64.b64decode(letter.payload_b64) == Record.value


PASSING: dict[str, Callable[[], BaseException]] = {
    "batch expired": lambda: KafkaTimeoutError("Batch expired"),
    "leader moved": NotLeaderForPartitionError,
    "not authorized": lambda: TopicAuthorizationFailedError("dispatch.deadletter"),
    "metadata wait": lambda: refused(KafkaTimeoutError),
}


@pytest.mark.parametrize("failure", list(PASSING))
async def test_a_letter_kafka_does_not_take_is_tried_again_then_the_worker_exits_75(
    failure: str,
) -> None:
    topic = Topic(lambda letter, attempt: PASSING[failure]())
    with pytest.raises(Exited) as exited:  # before `send` returns: the record unacknowledged
        await sink(topic).send(Record(), "undecodable command", "decode")
    assert exited.value.code == 75
    assert len(topic.tries) == 3  # tried again twice (retry_delays), then the exit
    assert not topic.acked


async def test_a_letter_taken_on_a_retry_is_sent_once_acknowledged() -> None:
    topic = Topic(lambda letter, attempt: NotLeaderForPartitionError() if attempt == 1 else None)
    await sink(topic).send(Record(), "undecodable command", "decode")
    assert len(topic.tries) == 2
    [letter] = topic.acked
    assert base64.b64decode(letter.payload_b64) == Record.value


def too_large_with_payload(letter: DeadLetter, attempt: int) -> BaseException | None:
    return MessageSizeTooLargeError() if letter.payload_b64 else None


@pytest.mark.parametrize("raises", [False, True], ids=["by the broker", "by the producer"])
async def test_a_letter_too_large_goes_again_without_its_payload(raises: bool) -> None:
    def fail(letter: DeadLetter, attempt: int) -> BaseException | None:
        if not letter.payload_b64:
            return None
        return refused(MessageSizeTooLargeError) if raises else MessageSizeTooLargeError()

    topic = Topic(fail, raises=raises)
    await sink(topic).send(Record(), "undecodable command", "decode")
    assert len(topic.tries) == 2
    [letter] = topic.acked
    assert letter.payload_b64 == ""
    assert letter.reason.startswith("undecodable command")
    assert f"payload of {len(Record.value)} bytes not kept" in letter.reason
    assert "too large for the dead-letter topic" in letter.reason
    assert (letter.source_topic, letter.partition, letter.offset) == ("dispatch.commands", 3, 17)


async def test_a_long_reason_keeps_the_note_within_its_limit() -> None:
    topic = Topic(too_large_with_payload)
    await sink(topic).send(Record(), "x" * 5000, "decode")
    [letter] = topic.acked
    assert len(letter.reason) == 2000 and letter.reason.endswith("dead-letter topic]")


async def test_a_letter_too_large_even_without_payload_is_not_sent_forever() -> None:
    topic = Topic(lambda letter, attempt: MessageSizeTooLargeError())
    await sink(topic).send(Record(), "undecodable command", "decode")
    assert [bool(t.payload_b64) for t in topic.tries] == [True, False]
    assert not topic.acked


async def test_a_failure_not_kafkas_is_logged_once_not_retried_nor_an_exit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug (the letter cannot be encoded at all) fails the same way at every try."""
    topic = Topic(lambda letter, attempt: ValueError("cannot encode 13800000000"), raises=True)
    await sink(topic).send(Record(), "undecodable command", "decode")
    assert len(topic.tries) == 1 and not topic.acked
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "could not dead-letter dispatch.commands[3]@17" in line
    assert "13800000000" not in caplog.text  # no traceback: its values may be the input's
