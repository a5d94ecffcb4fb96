"""The offset guard and records deleted by retention (streams/offsets.py, faust_consumer.py).

A gap below the partition's log start can never be read again: it is reported as lost and
reading goes on from the log start (a worker stopping there crash-looped for ever). A gap at
or above the log start is what the guard exists for: re-read, then a hole, as before.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from dispatcher.ops.metrics import REGISTRY
from streams.dead_letter import DeadLetterSink
from streams.faust_consumer import ContiguousConsumer
from streams.offsets import Admit, Hole, Lost, SeekGuard
from streams.runtime import Stats

T = "dispatch.events"
EVENTS = TP(T, 3)


def guard_at(expected: int) -> SeekGuard[int]:
    g: SeekGuard[int] = SeekGuard(contiguous_topics=frozenset({T}))
    g.seeked({0: expected})
    return g


# ---------------------------------------------------------------- the guard's decision


def test_a_gap_below_the_log_start_is_lost_and_skipped() -> None:
    g = guard_at(0)  # committed 0; retention deleted 0..5; aiokafka reset to 6
    assert g.admit(0, T, 6) is Admit.RESEEK
    assert g.log_start(0, 6) == Lost(first=0, end=6)
    assert Lost(0, 6).count == 6
    assert g.expected(0) == 6
    assert g.admit(0, T, 6) is Admit.DELIVER
    assert g.log_start(0, 6) is None  # reported once


def test_a_gap_above_the_log_start_is_still_a_hole() -> None:
    g = guard_at(3)
    verdicts = []
    for _ in range(g.max_reseeks + 1):
        verdicts.append(g.admit(0, T, 9))
        assert g.log_start(0, 0) is None  # offsets 3..8 are still in the log
    assert verdicts[:-1] == [Admit.RESEEK] * g.max_reseeks
    assert verdicts[-1] is Admit.HOLE
    assert g.expected(0) == 3


def test_an_expected_offset_at_the_log_start_is_not_lost() -> None:
    g = guard_at(6)
    assert g.admit(0, T, 9) is Admit.RESEEK
    assert g.log_start(0, 6) is None
    assert g.expected(0) == 6


def test_a_gap_above_the_new_log_start_is_still_read_again() -> None:
    g = guard_at(0)
    assert g.admit(0, T, 9) is Admit.RESEEK
    assert g.log_start(0, 6) == Lost(0, 6)
    assert g.admit(0, T, 9) is Admit.RESEEK  # 6..8 are kept: read them
    assert g.expected(0) == 6


def test_no_expected_offset_loses_nothing() -> None:
    g: SeekGuard[int] = SeekGuard(contiguous_topics=frozenset({T}))
    assert g.log_start(0, 6) is None


# ---------------------------------------------------------------- the consumer


def message(offset: int) -> Any:
    return SimpleNamespace(topic=T, partition=EVENTS.partition, offset=offset, key=b"k", value=b"")


class Broker:
    """What the consumer asks of aiokafka here: the records a poll returns, seeks, log starts."""

    def __init__(self, log_start: int | None) -> None:
        self.log_start = log_start
        self.next: list[int] = []
        self.seeks: list[int] = []
        self.letters: list[tuple[str | None, bytes]] = []

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        for offset in self.next:
            yield EVENTS, message(offset)

    async def seek(self, partition: TP, offset: int) -> None:
        self.seeks.append(offset)

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        if self.log_start is None:
            raise TimeoutError("ListOffsets timed out")
        return {p: self.log_start for p in partitions}

    async def send(self, key: str | None, value: bytes) -> asyncio.Future[None]:
        """The dead-letter topic: as Faust's, the letter's future (acknowledged at once)."""
        self.letters.append((key, value))
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    b = Broker(log_start=6)
    # ContiguousConsumer's `super()` calls land on the driver's class.
    monkeypatch.setattr(aiokafka_driver.Consumer, "getmany", b.getmany, raising=False)
    monkeypatch.setattr(aiokafka_driver.Consumer, "seek", b.seek, raising=False)
    yield b


def consumer_at(broker: Broker, committed: int, holes: list[Hole]) -> Any:
    consumer = ContiguousConsumer.__new__(ContiguousConsumer)
    consumer.guard = SeekGuard(contiguous_topics=frozenset({T}))
    consumer.guard.seeked({EVENTS: committed})
    consumer.reseeks = 0
    consumer._committed_offset = {EVENTS: committed or None}
    consumer.earliest_offsets = broker.earliest_offsets
    consumer.on_hole = lambda tp, hole: holes.append(hole)
    sink = DeadLetterSink(topic=broker, stats=Stats(), clock=Clock())
    consumer.app = SimpleNamespace(dead_letter_sink=sink)
    return consumer


async def poll(consumer: Any) -> list[int]:
    return [m.offset async for _, m in consumer.getmany(timeout=1.0)]


def lost_count() -> float:
    return REGISTRY.get_sample_value("dispatch_records_lost_to_retention_total", {"topic": T}) or 0


async def test_the_consumer_reports_records_deleted_by_retention_and_goes_on(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    holes: list[Hole] = []
    consumer = consumer_at(broker, committed=2, holes=holes)
    before = lost_count()
    broker.next = [6, 7]  # aiokafka reset to the log start after "offset out of range"
    with caplog.at_level(logging.CRITICAL, logger="streams.faust_consumer"):
        assert await poll(consumer) == [6, 7]
    assert broker.seeks == [] and holes == []
    assert consumer._committed_offset[EVENTS] == 6  # acks from 6 on are committable
    assert lost_count() - before == 4
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(lines) == 1 and f"{T}[3]: offsets 2..5 (4 records)" in lines[0], lines
    [(key, value)] = broker.letters
    letter = json.loads(value)
    assert key is None
    assert (letter["source_topic"], letter["partition"], letter["offset"]) == (T, 3, 2)
    assert letter["reason"].startswith("lost to retention: offsets 2..5 (4 records)")
    assert base64.b64decode(letter["payload_b64"]) == b""
    broker.next = [8]
    assert await poll(consumer) == [8]
    assert lost_count() - before == 4  # reported once


async def test_the_consumer_still_stops_on_a_hole_above_the_log_start(broker: Broker) -> None:
    broker.log_start = 0
    holes: list[Hole] = []
    consumer = consumer_at(broker, committed=3, holes=holes)
    before = lost_count()
    broker.next = [9]  # offset 3 is in the log, but re-reading never returns it
    for _ in range(consumer.guard.max_reseeks):
        assert await poll(consumer) == []
    assert holes == [] and broker.seeks == [3] * consumer.guard.max_reseeks
    assert await poll(consumer) == []
    assert holes == [Hole(expected=3, got=9)]
    assert lost_count() == before and broker.letters == []


async def test_an_unknown_log_start_keeps_the_gap_a_gap(broker: Broker) -> None:
    broker.log_start = None  # the broker did not answer: nothing is declared lost
    holes: list[Hole] = []
    consumer = consumer_at(broker, committed=2, holes=holes)
    broker.next = [6]
    assert await poll(consumer) == []
    assert broker.seeks == [2]
    assert consumer._committed_offset[EVENTS] == 2 and broker.letters == []


async def test_without_a_sink_the_loss_is_still_logged_and_counted(broker: Broker) -> None:
    consumer = consumer_at(broker, committed=0, holes=[])
    consumer.app = SimpleNamespace()
    before = lost_count()
    broker.next = [6]
    assert await poll(consumer) == [6]
    assert lost_count() - before == 6
