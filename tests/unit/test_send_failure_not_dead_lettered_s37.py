"""A command whose events Kafka did not take is never dead-lettered for a failure that may
pass (the broker away longer than Faust's producer_request_timeout: aiokafka's
KafkaTimeoutError, a leader moving, the connection lost, the producer stopping): the state goes
back to the tables, the command is taken again, and after the last retry the worker exits 75
with the command unacknowledged, so it is read again (as `_store_all` does for the tables).
Dead-lettered, and the partition going on, is only what fails the same way every time: a
record too large for the topic. Before session 37 the first kind was dead-lettered and its
offset committed: a cancel, a resolve, a deactivation… lost for good.
The agent's groups and its fakes: tests/unit/test_dispatch_groups.py."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
)
from faust.exceptions import NotReady, ProducerSendError

from schemas.event_batch import decode_record
from streams import dispatch_agent
from tests.unit.test_dispatch_groups import (
    FakeEvents,
    agent,
    assert_state_is_the_tables,
    helper_keys,
    runtime,
    trace_offsets,
    upserts,
)

B = '"helper_id":"b"'


class Exited(BaseException):  # as os._exit: nothing after it runs, no `except Exception`
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@pytest.fixture(autouse=True)
def no_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    def exit_(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(os, "_exit", exit_)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    monkeypatch.setattr(dispatch_agent, "SEND_RETRY_DELAYS_S", (0.0, 0.0), raising=False)


class FailingEvents(FakeEvents):
    """`events` refusing the records that hold `match`, the first `times` times (None: every
    time): `error()` set on the send's future, or raised by the send itself (`refuse`, as
    Faust raises ProducerSendError when aiokafka refuses a record before queueing it)."""

    def __init__(
        self,
        error: Callable[[], BaseException],
        match: str = "",
        times: int | None = None,
        refuse: bool = False,
    ) -> None:
        super().__init__()
        self.error, self.match, self.times, self.refuse = error, match, times, refuse
        self.failed = 0

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        if self.match.encode() not in value or self.times == self.failed:
            return await super().send(key, value)
        self.failed += 1
        self.sent.append(value)
        if self.refuse:
            raise self.error()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_exception(self.error())
        return fut


def refused(error: type[Exception]) -> ProducerSendError:
    """Faust's `Producer.send`: `raise ProducerSendError(...) from exc`."""
    try:
        raise ProducerSendError("Error while sending") from error("refused")
    except ProducerSendError as exc:
        return exc


PASSING: dict[str, tuple[Callable[[], BaseException], bool]] = {
    "batch expired": (lambda: KafkaTimeoutError("Batch expired"), False),
    "request timed out": (RequestTimedOutError, False),
    "leader moved": (NotLeaderForPartitionError, False),
    "connection lost": (lambda: KafkaConnectionError("Connection at 127.0.0.1:9092 closed"), False),
    "not authorized": (lambda: TopicAuthorizationFailedError("events"), False),
    "metadata wait": (lambda: refused(KafkaTimeoutError), True),
    "producer stopped": (lambda: NotReady("Producer service not yet started"), True),
}


@pytest.mark.parametrize("failure", list(PASSING))
async def test_a_lone_command_kafka_did_not_take_is_not_dead_lettered_but_read_again(
    tmp_path: Path, failure: str
) -> None:
    error, refuse = PASSING[failure]
    events = FailingEvents(error, refuse=refuse)
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    with pytest.raises(Exited) as exited:  # before `handle_group` returns: never acknowledged
        await dispatch.handle_group(upserts("a"))
    assert exited.value.code == 75
    assert not sink.letters
    assert events.failed == 3  # tried again twice (SEND_RETRY_DELAYS_S), then the exit
    assert "a" not in rt.state.core.helpers and not rt.helpers_table  # back to the tables
    assert trace_offsets(tmp_path) == []  # not processed


async def test_a_lone_command_sent_again_once_kafka_takes_it_is_processed_once(
    tmp_path: Path,
) -> None:
    events = FailingEvents(lambda: KafkaTimeoutError("Batch expired"), times=1)
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    assert await dispatch.handle_group(upserts("a"))  # acknowledged, now that it is stored
    assert not sink.letters
    assert events.failed == 1 and len(events.sent) == 2
    first, second = ([e.event_id for e in decode_record(v).events] for v in events.sent)
    assert first == second  # the same events: their readers dedupe the first
    assert helper_keys(rt.helpers_table) == {b"a"}
    assert_state_is_the_tables(rt)
    assert trace_offsets(tmp_path) == [0]


async def test_a_group_kafka_did_not_take_is_not_dead_lettered_but_read_again(
    tmp_path: Path,
) -> None:
    events = FailingEvents(lambda: KafkaTimeoutError("Batch expired"), match=B)
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    with pytest.raises(Exited) as exited:
        await dispatch.handle_group(upserts("a", "b", "c"))
    assert exited.value.code == 75
    assert not sink.letters
    # The group, then b alone three times; a was stored meanwhile (read again with the
    # group, it yields the same events and records), c not reached.
    assert events.failed == 4
    assert helper_keys(rt.helpers_table) == {b"a"}
    assert set(rt.state.core.helpers) == {"a"}  # back to the tables, without b's decision
    assert_state_is_the_tables(rt)


async def test_a_group_sent_again_once_kafka_takes_it_is_processed_once(tmp_path: Path) -> None:
    events = FailingEvents(NotLeaderForPartitionError, match=B, times=2)
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    assert await dispatch.handle_group(upserts("a", "b", "c"))
    assert not sink.letters
    assert helper_keys(rt.helpers_table) == {b"a", b"b", b"c"}
    assert_state_is_the_tables(rt)
    assert trace_offsets(tmp_path) == [0, 1, 2]


@pytest.mark.parametrize("refuse", [False, True], ids=["by the broker", "by the producer"])
@pytest.mark.parametrize("size", [1, 3])
async def test_a_record_too_large_is_dead_lettered_with_its_reason_and_the_partition_goes_on(
    tmp_path: Path, refuse: bool, size: int
) -> None:
    error = (lambda: refused(MessageSizeTooLargeError)) if refuse else MessageSizeTooLargeError
    events = FailingEvents(error, match=B, refuse=refuse)
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    group = upserts("a", "b", "c")
    if size == 1:
        acked = [await dispatch.handle_group([event]) for event in group]
    else:
        acked = [await dispatch.handle_group(group)]
    assert all(acked)
    assert [(offset, stage) for offset, _, stage in sink.letters] == [(1, "process")]
    reason = sink.letters[0][1]
    assert reason.startswith("ProducerSendError" if refuse else "MessageSizeTooLargeError")
    assert events.failed == (1 if size == 1 else 2)  # never sent again alone: it cannot pass
    assert helper_keys(rt.helpers_table) == {b"a", b"c"}
    assert_state_is_the_tables(rt)
    assert trace_offsets(tmp_path) == [0, 1, 2]


def test_what_may_pass() -> None:
    may_pass = dispatch_agent.send_may_pass
    for error, _ in PASSING.values():
        assert may_pass(error())
    assert not may_pass(MessageSizeTooLargeError())
    assert not may_pass(refused(MessageSizeTooLargeError))
    assert not may_pass(ValueError("the core refused it"))  # decide(): the command's own
    assert not may_pass(TypeError("Object of type X is not JSON serializable"))


async def test_a_send_cancelled_as_the_worker_stops_is_neither_dead_lettered_nor_reloaded(
    tmp_path: Path,
) -> None:
    # The worker stopping cancels the agent: its tables may be closing, so the state is not
    # read again (session 36), and nothing is acknowledged.
    events = FailingEvents(asyncio.CancelledError)
    rt = runtime(tmp_path, events)
    state = rt.state
    dispatch, sink = agent(rt)
    with pytest.raises(asyncio.CancelledError):
        await dispatch.handle_group(upserts("a"))
    assert not sink.letters and events.failed == 1
    assert rt.state is state
