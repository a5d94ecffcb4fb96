"""Review rev30, ops finding 5: with PostgreSQL out of reach every staff route answered an
unhandled 500 (the staff audit's INSERT raised). Now: 503 `database_unavailable` with a
Retry-After, nothing carried out without its audit row, and service again once the database
is back.

The API process reaches the namespace's real PostgreSQL through a TCP relay in this test,
which the test closes (every open connection dropped, no new one accepted) and reopens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack, free_port
from tests.support import builders
from tests.support.kafka import read_topic

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "audit-down"


class Relay:
    """127.0.0.1:port → PostgreSQL, byte for byte, until closed."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.transport.abort()


@pytest.fixture
async def relayed_api(stack: LocalStack) -> AsyncIterator[tuple[httpx.AsyncClient, Relay]]:
    relay = Relay(stack.pg_port)
    await relay.open()
    dsn = stack.pg_dsn.replace(f":{stack.pg_port}/", f":{relay.port}/")
    assert dsn != stack.pg_dsn
    stack.extra_env = {"DISPATCH_PG_DSN": dsn}
    proc = await stack.start_api()
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            yield client, relay
    finally:
        proc.kill()
        stack.procs.remove(proc)
        stack.extra_env = {}
        with contextlib.suppress(AssertionError, OSError):
            await relay.close()


async def audit_rows(stack: LocalStack) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        rows = await conn.fetch("SELECT method, route FROM staff_audit ORDER BY id")
    finally:
        await conn.close()
    return [(r["method"], r["route"]) for r in rows]


async def test_staff_routes_answer_503_while_the_database_is_away(
    stack: LocalStack, relayed_api: tuple[httpx.AsyncClient, Relay]
) -> None:
    c, relay = relayed_api
    assert (await c.get("/ops/v1/overview", headers=STAFF)).status_code == 200  # pool warm
    before = await audit_rows(stack)
    helper = builders.helper("ad1", COMMUNITY, ["driving"])

    await relay.close()  # PostgreSQL goes away: the pool's connections die, none reconnect
    for method, path, body in (
        ("GET", "/ops/v1/overview", None),
        ("GET", "/ops/v1/stream", None),
        ("PUT", "/v1/admin/helpers/ad1", helper),  # a state-changing route
    ):
        r = await c.request(method, path, json=body, headers=STAFF)
        assert r.status_code == 503, (path, r.status_code, r.text)
        assert r.json()["detail"]["reason"] == "database_unavailable", r.text
        assert int(r.headers["retry-after"]) > 0
    # Not carried out: the helper's command never reached Kafka.
    commands = await read_topic(stack.kafka_bootstrap, stack.topic("commands"), until=1, timeout=3)
    assert commands == []

    await relay.open()  # back: the same requests are served, and audited
    r = await c.put("/v1/admin/helpers/ad1", json=helper, headers=STAFF)
    assert r.status_code == 202, r.text
    after = await audit_rows(stack)
    assert after[len(before) :] == [("PUT", "/v1/admin/helpers/{helper_id}")]
