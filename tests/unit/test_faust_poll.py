"""streams/faust_poll.py: a poll hands Faust only records it can take, and puts back the rest.

aiokafka's client is faked here (its state objects, as the consumer thread sees them); the real
interleaving on the real broker is tests/integration/test_recovery_stale_poll.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as aiokafka_driver

from streams.faust_consumer import ContiguousConsumer
from streams.faust_poll import SnapshotPollThread, current_assignment, rewind

CHANGELOG = TopicPartition("x-helpers-changelog", 1)
STREAM = TopicPartition("x.commands", 1)


class FakeClient:
    """The aiokafka consumer parts the poll reads: its current assignment, seeks."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = assigned
        self.assignment = object()
        self.seeks: list[tuple[TopicPartition, int]] = []
        self._subscription = SimpleNamespace(
            subscription=SimpleNamespace(assignment=self.assignment),
            is_assigned=lambda tp: tp in self.assigned,
        )
        self._fetcher = SimpleNamespace(seek_to=lambda tp, offset: self.seeks.append((tp, offset)))

    def reassign(self) -> None:
        self._subscription.subscription.assignment = object()


def recs(*offsets: int) -> list[Any]:
    return [SimpleNamespace(offset=o) for o in offsets]


def test_rewind_seeks_each_partition_back_to_its_first_record() -> None:
    client = FakeClient({CHANGELOG, STREAM})
    gone = TopicPartition("x.events", 3)
    n = rewind(client, {CHANGELOG: recs(0, 1, 2), STREAM: recs(7), gone: recs(4), ("y", 0): []})
    assert n == 2
    assert client.seeks == [(CHANGELOG, 0), (STREAM, 7)]


def test_current_assignment_is_none_before_any_subscription() -> None:
    client = FakeClient(set())
    assert current_assignment(client) is client.assignment
    client._subscription.subscription = None
    assert current_assignment(client) is None


def poll_thread(flow_active: bool) -> Any:
    thread = SnapshotPollThread.__new__(SnapshotPollThread)
    thread.consumer = SimpleNamespace(flow_active=flow_active)
    return thread


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Faust's own `_fetch_records`, replaced by one that drains what `drain` says (and may
    let the group reassign meanwhile, as a poll parked in `fetched_records` does)."""
    calls: list[Any] = []

    async def fetch(self: Any, consumer: Any, partitions: Any, **kw: Any) -> Any:
        calls.append(partitions)
        if calls and getattr(consumer, "reassign_during_poll", False):
            consumer.reassign()
        return consumer.drain

    monkeypatch.setattr(aiokafka_driver.AIOKafkaConsumerThread, "_fetch_records", fetch)
    return calls


async def test_a_poll_that_outlived_its_assignment_puts_back_what_it_drained(
    upstream: list[Any],
) -> None:
    client: Any = FakeClient({CHANGELOG, STREAM})
    client.drain = {CHANGELOG: recs(0, 1, 2)}
    client.reassign_during_poll = True
    assert await poll_thread(True)._fetch_records(client, frozenset({STREAM}), timeout=1) == {}
    assert client.seeks == [(CHANGELOG, 0)]


async def test_a_poll_returning_while_the_flow_is_stopped_puts_back_what_it_drained(
    upstream: list[Any],
) -> None:
    client: Any = FakeClient({CHANGELOG})
    client.drain = {CHANGELOG: recs(5, 6)}
    assert await poll_thread(False)._fetch_records(client, frozenset({CHANGELOG})) == {}
    assert client.seeks == [(CHANGELOG, 5)]


async def test_a_poll_with_the_flow_on_in_the_same_assignment_delivers(
    upstream: list[Any],
) -> None:
    client: Any = FakeClient({CHANGELOG})
    client.drain = {CHANGELOG: recs(5, 6)}
    got = await poll_thread(True)._fetch_records(client, frozenset({CHANGELOG}))
    assert got == client.drain
    assert client.seeks == []


async def test_an_empty_partition_set_polls_nothing(upstream: list[Any]) -> None:
    """aiokafka reads an empty set as every partition; Faust's client-only mode passes None."""
    client: Any = FakeClient({CHANGELOG})
    client.drain = {CHANGELOG: recs(5)}
    assert await poll_thread(True)._fetch_records(client, frozenset()) == {}
    assert upstream == []
    assert await poll_thread(True)._fetch_records(client, None) == client.drain
    assert upstream == [None]


def faust_consumer(flow_active: bool, active: set[Any]) -> Any:
    consumer = ContiguousConsumer.__new__(ContiguousConsumer)
    consumer.flow_active = flow_active
    consumer._buffered_partitions = set()
    consumer.app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}))
    return consumer


@pytest.mark.parametrize(
    ("flow_active", "active", "warned"),
    [(True, {CHANGELOG, STREAM}, False), (False, {CHANGELOG}, True), (True, {STREAM}, True)],
)
def test_a_changelog_record_faust_would_drop_is_reported(
    caplog: pytest.LogCaptureFixture, flow_active: bool, active: set[Any], warned: bool
) -> None:
    records = {CHANGELOG: recs(3, 4), STREAM: recs(9)}
    faust_consumer(flow_active, active)._report_dropped_changelogs(records, active)
    lines = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert lines == (
        [f"changelog records fetched but not delivered: {{'{CHANGELOG.topic}[1]': 2}}"]
        if warned
        else []
    )
