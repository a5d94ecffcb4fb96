"""A worker whose PostgreSQL is full (53300, too many connections) or terminates its session
(pg_terminate_backend, as an operator or a fast restart does) keeps dispatching, records
nothing meanwhile, dead-letters nothing for it, and records everything once PostgreSQL has
room again; on the real Kafka and PostgreSQL. "Full" is the worker's own role at CONNECTION
LIMIT 0: the shared PostgreSQL is never stopped or filled.

Review findings: the record agent made its pool at its first batch outside its retry loop,
so PostgreSQL full or away then raised out of its Faust task and the worker exited (rc=1),
dispatching too, and crash-looped; the config recorder let TooManyConnectionsError escape
the same way; and a batch that met a full PostgreSQL once its session was gone took the
"batch rejected" branch, which dead-lettered every event and committed the batch: events
lost to the event log. Unit tests of the same: tests/unit/test_recorders_wait_out_postgresql.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from dispatcher.testing.stack import LocalStack, Proc
from schemas.commands import SubmitRequest, UpsertHelper
from schemas.config import ConfigKind, ConfigRecord
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually
from tests.unit.conftest import COMMUNITY, World

FULL = "recording failed (TooManyConnectionsError)"  # the recorders' log lines


@dataclass
class Role:
    """The worker's PostgreSQL role, and a superuser connection to its database."""

    name: str
    admin: asyncpg.Connection

    async def limit(self, connections: int) -> None:
        """0: PostgreSQL full for the worker (53300 at its next connect); -1: room again."""
        await self.admin.execute(f'ALTER ROLE "{self.name}" CONNECTION LIMIT {connections}')

    async def sessions(self, waiting_on_a_lock: bool = False) -> list[int]:
        query = "SELECT pid FROM pg_stat_activity WHERE usename = $1"
        if waiting_on_a_lock:
            query += " AND wait_event_type = 'Lock'"
        return [r["pid"] for r in await self.admin.fetch(query, self.name)]

    async def terminate(self, pids: list[int]) -> None:
        for pid in pids:
            await self.admin.execute("SELECT pg_terminate_backend($1)", pid)


@pytest.fixture(scope="module")
async def role(stack: LocalStack) -> AsyncIterator[Role]:
    """The worker connects as a role of its own: a member of the stack's superuser for its
    tables, without its superuser attribute (not inherited), so its connection limit holds."""
    admin = await asyncpg.connect(stack.pg_dsn)
    owner = await admin.fetchval("SELECT current_user")
    r = Role(f"{stack.ns}_recorders", admin)
    await admin.execute(f'CREATE ROLE "{r.name}" LOGIN')
    await admin.execute(f'GRANT "{owner}" TO "{r.name}"')
    dsn = f"postgresql://{r.name}@127.0.0.1:{stack.pg_port}/{stack.db}"
    stack.extra_env["DISPATCH_PG_DSN"] = dsn
    try:
        yield r
    finally:
        del stack.extra_env["DISPATCH_PG_DSN"]
        for p in stack.procs:
            p.stop()
        await r.terminate(await r.sessions())
        await admin.execute(f'DROP ROLE "{r.name}"')
        await admin.close()


async def running(stack: LocalStack, name: str) -> Proc:
    worker = stack.start_worker(name)

    async def owning() -> bool:
        stats = await stack.worker_stats(worker)
        return bool(stats and stats.get("partitions"))

    await eventually(owning, timeout=120, what="the worker to own", explain=worker.log_tail)
    return worker


def commands(stack: LocalStack) -> CommandProducer:
    return CommandProducer(stack.kafka_bootstrap, stack.env()["DISPATCH_COMMANDS_TOPIC"])


async def helper_and_request(producer: CommandProducer, helper_id: str, request_id: str) -> None:
    """A helper, and a request the worker offers them (deciding needs no PostgreSQL)."""
    world = World()
    await producer.send(UpsertHelper(profile=world.helper(helper_id)), COMMUNITY)
    await producer.send(SubmitRequest(spec=world.spec(request_id)), COMMUNITY)


async def logged(worker: Proc, text: str) -> bool:
    """Whether the worker logged `text`; fails at once if it exited or dead-lettered."""
    log = worker.log_path.read_text(errors="replace")
    assert worker.alive(), f"the worker exited:\n{worker.log_tail(60)}"
    assert "dead-lettered" not in log, f"the worker dead-lettered:\n{worker.log_tail(60)}"
    return text in log


async def recorded(conn: asyncpg.Connection, request_id: str) -> int:
    count = await conn.fetchval("SELECT count(*) FROM event_log WHERE request_id = $1", request_id)
    return int(count)


async def config_recorded(conn: asyncpg.Connection, change_id: str) -> bool:
    found = await conn.fetchval("SELECT 1 FROM config_entities WHERE change_id = $1", change_id)
    return bool(found)


async def send_config_change(stack: LocalStack) -> str:
    record = ConfigRecord(
        change_id=uuid.uuid4().hex,
        kind=ConfigKind.COMMUNITY,
        id="full-pg",
        actor="staff-a",
        issued_at=datetime.now(UTC),
        communities=("full-pg",),
        state={"community_id": "full-pg", "display_name": "满"},
    )
    topic = stack.env()["DISPATCH_CONFIG_TOPIC"]
    async with CommandProducer(stack.kafka_bootstrap, topic) as producer:
        await producer.send_raw(record.key, record.model_dump_json().encode())
    return record.change_id


async def no_dead_letters(stack: LocalStack) -> None:
    topic = stack.env()["DISPATCH_DEAD_LETTER_TOPIC"]
    assert await read_topic(stack.kafka_bootstrap, topic, until=1, timeout=3) == []


async def test_a_worker_meeting_a_full_postgresql_at_its_first_records_dispatches_and_waits(
    stack: LocalStack, role: Role
) -> None:
    await role.limit(0)  # full before the worker's first batch: its pools are made then
    worker = await running(stack, "full-at-start")
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        async with commands(stack) as producer:
            await helper_and_request(producer, "h1", "req-full")
        change_id = await send_config_change(stack)

        async def both_waiting() -> bool:
            return await logged(worker, f"event {FULL}") and await logged(worker, f"config {FULL}")

        await eventually(both_waiting, what="both recorders to meet the full PostgreSQL")

        async def decided() -> dict[str, Any] | None:
            # The event recorder may have met it with the helper's record alone: the
            # request is decided, and counted, in a later batch.
            stats = await stack.worker_stats(worker)
            return stats if stats is not None and stats["commands"] >= 2 else None

        stats = await eventually(decided, what="both commands decided")
        assert stats["commands"] == 2 and stats["events"] > 0
        assert stats["recorded"] == 0 and await recorded(conn, "req-full") == 0

        await role.limit(-1)
        await eventually(lambda: recorded(conn, "req-full"), what="the request recorded")
        await eventually(lambda: config_recorded(conn, change_id), what="the change recorded")
        await no_dead_letters(stack)
    finally:
        await role.limit(-1)
        await conn.close()
        worker.stop()


async def test_a_batch_cut_off_while_postgresql_is_full_is_waited_out_not_dead_lettered(
    stack: LocalStack, role: Role
) -> None:
    worker = await running(stack, "cut-off")
    conn = await asyncpg.connect(stack.pg_dsn)
    locker = await asyncpg.connect(stack.pg_dsn)
    try:
        async with commands(stack) as producer:
            await helper_and_request(producer, "h2", "req-before")
            await eventually(lambda: recorded(conn, "req-before"), what="recording to work")

            # The next batch's statement held by a lock; then PostgreSQL full, and that
            # session terminated mid-statement (SQLSTATE 57P01 at the server).
            await locker.execute("BEGIN; LOCK TABLE event_log IN ACCESS EXCLUSIVE MODE")
            await producer.send(SubmitRequest(spec=World().spec("req-cut")), COMMUNITY)
            waiting = await eventually(
                lambda: role.sessions(waiting_on_a_lock=True), what="the batch's statement"
            )
            await role.limit(0)
            await role.terminate(waiting)
            await eventually(lambda: logged(worker, f"event {FULL}"), what="the reconnect refused")
            await locker.execute("ROLLBACK")  # only the full PostgreSQL in the way now
            await eventually(lambda: logged(worker, f"event {FULL}, retry 3"), what="more retries")
            assert await recorded(conn, "req-cut") == 0

            await role.limit(-1)
            await eventually(lambda: recorded(conn, "req-cut"), what="the batch recorded")
        stats = await stack.worker_stats(worker)
        assert stats is not None and stats["dead_letters"] == 0
        await no_dead_letters(stack)
        assert worker.alive()
    finally:
        await role.limit(-1)
        await locker.close()
        await conn.close()
        worker.stop()
