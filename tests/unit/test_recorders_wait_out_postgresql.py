"""The record agent and the config recorder wait out PostgreSQL away, restarting or full:
nothing is dead-lettered for it, nothing committed past it, and no exception ends their
Faust tasks (which would stop the worker, dispatching too). Only what PostgreSQL refuses for
its data is dead-lettered. PostgreSQL and Kafka are fakes here; the real ones are in
tests/integration/test_recorders_postgresql_full.py.

Review findings: PostgreSQL down or full at the record agent's first batch raised out of its
task (the pool was made outside the retry loop) and the worker crash-looped; 53300 (too many
clients) and 57P01/57P03 (terminated, starting up) took the "batch rejected" branch, whose
one-by-one pass dead-lettered every event and let the batch be committed; the config
recorder let TooManyConnectionsError escape its task.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from dispatcher.settings import Settings
from schemas.event_batch import encode_batch_records
from schemas.events import Event
from streams import config_agent, record_agent
from streams.config_agent import ConfigAgent
from streams.dead_letter import DeadLetterSink
from streams.record_agent import PgFailure, RecordAgent, pg_failure
from streams.runtime import Stats
from tests.unit.conftest import World
from tests.unit.test_unstorable_text_refusals import failing, message, record_bytes
from tests.unit.test_worker_notify import FakeClock, Topic

FULL = asyncpg.TooManyConnectionsError("sorry, too many clients already")  # 53300
STARTING = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
TERMINATED = asyncpg.exceptions.AdminShutdownError("terminating connection due to admin")
DATA = asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape")  # 22P05


def test_full_restarting_and_terminated_are_waited_out_and_data_errors_refused() -> None:
    for passing in (
        FULL,
        STARTING,
        TERMINATED,
        asyncpg.exceptions.OutOfMemoryError("out of memory"),  # class 53 too
        asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle of operation"),
        ConnectionRefusedError(111, "refused"),
    ):
        assert pg_failure(passing) is PgFailure.UNREACHABLE, passing
    # asyncpg's own input error is an InterfaceError too: still the data's.
    client_side = asyncpg.exceptions._base.DataError("invalid input for query argument $1")
    for refused in (DATA, asyncpg.UniqueViolationError("duplicate key"), client_side):
        assert pg_failure(refused) is PgFailure.REFUSED, refused
    assert pg_failure(asyncpg.UndefinedTableError("no such table")) is PgFailure.UNKNOWN


# ---------------------------------------------------------------- the record agent
def decision() -> tuple[list[Event], list[Any]]:
    """A decision's events and its records on `events`, as aiokafka hands them over."""
    world = World()
    world.helper("h1")
    events = list(world.submit().events)
    records = [
        SimpleNamespace(topic="events", partition=0, offset=i, key=key, value=value)
        for i, (key, value, _) in enumerate(encode_batch_records(events))
    ]
    return events, records


class Database:
    """PostgreSQL as the agent sees it: each write takes the next scripted failure, if any,
    else stores its events (once each, as the event log dedupes by event id)."""

    def __init__(
        self,
        *failures: BaseException,
        refuse: str | None = None,
        once: dict[str, BaseException] | None = None,
    ) -> None:
        self.failures = list(failures)
        self.refuse = refuse  # this event id is refused for its data, always
        self.once = once or {}  # a write of this event alone fails so, the first time
        self.stored: list[str] = []
        self.writes: list[int] = []  # events per write

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Database]:
        yield self

    async def record_events(self, conn: Any, events: list[Event], **_: Any) -> int:
        self.writes.append(len(events))
        if self.failures:
            raise self.failures.pop(0)
        if len(events) == 1 and events[0].event_id in self.once:
            raise self.once.pop(events[0].event_id)
        if self.refuse in {e.event_id for e in events}:
            raise DATA
        new = [e.event_id for e in events if e.event_id not in self.stored]
        self.stored += new
        return len(new)


def recorder(monkeypatch: pytest.MonkeyPatch, db: Database) -> tuple[RecordAgent, list[float]]:
    monkeypatch.setattr(record_agent, "record_events", db.record_events)
    topic, stats = Topic(), Stats()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    agent = RecordAgent(Settings(), stats, DeadLetterSink(topic, stats, FakeClock()), db)
    agent.sleep = sleep
    return agent, waits


def letters(agent: RecordAgent) -> list[dict[str, Any]]:
    return [json.loads(value) for _, value in agent.sink.topic.sent]


@pytest.mark.parametrize("passing", [FULL, STARTING, TERMINATED], ids=["53300", "57P03", "57P01"])
async def test_a_batch_waits_out_postgresql_full_or_restarting_and_letters_nothing(
    monkeypatch: pytest.MonkeyPatch, passing: BaseException
) -> None:
    events, records = decision()
    db = Database(passing, passing)
    agent, waits = recorder(monkeypatch, db)
    await agent.record_batch(records)  # returns once recorded: consume() then commits
    assert letters(agent) == []
    assert db.stored == [e.event_id for e in events]
    assert waits == [0.4, 0.8]  # backing off, not one by one
    assert db.writes == [len(events)] * 3


async def test_one_by_one_letters_only_what_postgresql_refuses_and_waits_out_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, records = decision()
    bad, then = events[0], events[1]
    # The batch refused (bad's data); one by one, bad is refused and the next one meets a
    # full PostgreSQL: the batch waits and goes again, bad lettered once.
    db = Database(refuse=bad.event_id, once={then.event_id: FULL})
    agent, waits = recorder(monkeypatch, db)
    await agent.record_batch(records)
    [letter] = letters(agent)
    assert letter["stage"] == "record"
    assert letter["reason"].startswith(f"record failed for event {bad.event_id}: ")
    assert db.stored == [e.event_id for e in events if e is not bad]
    assert waits == [0.4]


class OneBatch:
    """The `events` consumer: one batch, then the test ends (the agent is cancelled)."""

    def __init__(self, records: list[Any], fail_first: BaseException | None = None) -> None:
        self.records, self.fail_first = records, fail_first
        self.committed = 0

    def __call__(self, *args: Any, **kwargs: Any) -> OneBatch:
        return self  # stands in for the AIOKafkaConsumer class

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[str, list[Any]]:
        if self.fail_first is not None:
            exc, self.fail_first = self.fail_first, None
            raise exc
        if not self.records:
            raise asyncio.CancelledError
        batch, self.records = self.records, []
        return {"tp": batch}

    async def commit(self) -> None:
        self.committed += 1


async def test_postgresql_away_at_the_first_batch_is_waited_out_by_the_running_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, records = decision()
    consumer = OneBatch(records)
    monkeypatch.setattr(record_agent, "AIOKafkaConsumer", consumer)
    db = Database()
    agent, waits = recorder(monkeypatch, db)
    agent.pool = None
    away: list[BaseException] = [ConnectionRefusedError(111, "refused"), FULL]

    async def get_pool() -> Any:  # the migrations and the pool, made at the first batch
        if away:
            raise away.pop(0)
        return db

    agent.get_pool = get_pool  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):  # the test's end, not the agent's
        await agent.run()
    assert db.stored == [e.event_id for e in events] and consumer.committed == 1
    assert waits[:2] == [0.4, 0.8] and letters(agent) == []


async def test_an_unexpected_failure_does_not_end_the_record_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, records = decision()
    consumer = OneBatch(records, fail_first=RuntimeError("a bug met once"))
    monkeypatch.setattr(record_agent, "AIOKafkaConsumer", consumer)
    db = Database()
    agent, waits = recorder(monkeypatch, db)
    with pytest.raises(asyncio.CancelledError):
        await agent.run()
    assert waits[0] == 5 and db.stored == [e.event_id for e in events]


# ---------------------------------------------------------------- the config recorder
def change() -> Any:
    """A community's change as the `config` consumer hands it over (change id c1)."""
    return message(record_bytes())


class Busy(ConfigAgent):
    """The recorder's pool: made after the scripted failures."""

    pool_failures: list[BaseException]

    async def _pool(self) -> Any:
        if self.pool_failures:
            raise self.pool_failures.pop(0)
        return object()


def config_recorder(
    monkeypatch: pytest.MonkeyPatch, pool: list[BaseException], write: list[BaseException]
) -> tuple[Busy, list[str], list[float], Topic]:
    stored = failing(monkeypatch, *write)  # record_change raising these, then storing
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    topic = Topic()
    agent = Busy(Settings(), FakeClock())
    agent.sleep = sleep
    agent.sink = DeadLetterSink(topic, Stats(), FakeClock())
    agent.pool_failures = pool
    return agent, stored, waits, topic


@pytest.mark.parametrize(
    ("pool", "write"),
    [([FULL], []), ([], [FULL]), ([], [STARTING, TERMINATED]), ([], [RuntimeError("a bug")])],
    ids=["pool-53300", "write-53300", "write-57P03-57P01", "unknown"],
)
async def test_the_config_recorder_waits_out_postgresql_full_and_letters_nothing(
    monkeypatch: pytest.MonkeyPatch, pool: list[BaseException], write: list[BaseException]
) -> None:
    agent, stored, waits, topic = config_recorder(monkeypatch, pool, write)
    tries = len(pool) + len(write)
    await agent.record_one(change())  # returns: its offset can be committed
    assert stored == ["c1"] and topic.sent == []
    assert waits == [0.4, 0.8][:tries]


async def test_the_config_recorder_still_letters_what_postgresql_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent, stored, waits, topic = config_recorder(monkeypatch, [], [DATA])
    await agent.record_one(change())
    [(_, value)] = topic.sent
    assert json.loads(value)["reason"].startswith("config change c1 refused: ")
    assert stored == [] and waits == []


async def test_an_unexpected_failure_does_not_end_the_config_recorder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = OneBatch([change()], fail_first=RuntimeError("a bug met once"))
    monkeypatch.setattr(config_agent, "AIOKafkaConsumer", consumer)
    agent, stored, waits, _ = config_recorder(monkeypatch, [], [])
    with pytest.raises(asyncio.CancelledError):
        await agent.record()
    assert waits == [5] and stored == ["c1"] and consumer.committed == 1
