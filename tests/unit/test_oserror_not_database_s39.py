"""Only PostgreSQL's errors are answered 503 `database_unavailable` (dispatcher/api/errors.py).

Before session 39 the app's handler took every OSError for PostgreSQL out of reach: a file
a route could not read, or a socket of its own refused, was answered 503
`database_unavailable` with Retry-After, sending the caller to retry what a retry does not
mend and staff to look at a database that was fine. The class alone cannot tell them apart:
asyncpg re-raises its socket's error as it is (a FileNotFoundError for a Unix socket's path
with the server stopped, a ConnectionRefusedError for a port), so the handler asks whether
the error came through asyncpg.

Real errors, no doubles: PostgreSQL is a DSN naming a loopback port nothing listens on, or a
Unix socket directory that does not exist; the route's own I/O is a file that is not there,
or a connection to a port nothing listens on. The routes are added to the real app, so the
app's handlers answer as for any route.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.settings import Settings
from dispatcher.testing.ports import free_port
from tests.unit.test_api_clock import RecordingSink


async def read_a_missing_file(request: Request) -> dict[str, str]:
    missing = Path(request.app.state.missing)
    return {"text": missing.read_text()}  # FileNotFoundError


async def connect_a_closed_port(request: Request) -> dict[str, str]:
    await asyncio.open_connection("127.0.0.1", request.app.state.closed_port)  # refused
    return {}


async def ask_postgresql(request: Request) -> dict[str, int]:
    deps: ApiDeps = request.app.state.deps
    return {"one": await (await deps.pool()).fetchval("SELECT 1")}


def app_with(pg_dsn: str, tmp_path: Path) -> tuple[FastAPI, ApiDeps]:
    settings = Settings(pg_dsn=pg_dsn)  # type: ignore[call-arg]
    deps = ApiDeps(settings=settings, sink=RecordingSink())
    app = create_app(settings, deps)
    app.state.missing = str(tmp_path / "not-there.txt")
    app.state.closed_port = free_port()
    app.add_api_route("/s39/file", read_a_missing_file)
    app.add_api_route("/s39/socket", connect_a_closed_port)
    app.add_api_route("/s39/postgresql", ask_postgresql)
    return app, deps


@pytest.fixture(params=["port", "unix socket"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """PostgreSQL out of reach through a port (ConnectionRefusedError) or through the Unix
    socket of a server that is not running (FileNotFoundError, asyncpg's as well)."""
    if request.param == "port":
        dsn = f"postgresql://dispatch@127.0.0.1:{free_port()}/dispatch"
    else:
        dsn = f"postgresql://dispatch@/dispatch?host={tmp_path / 'no-postgresql-here'}"
    app, deps = app_with(dsn, tmp_path)
    # What the framework answers, not the exception: a 500 is an answer too.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c
    finally:
        await deps.close()


async def test_postgresql_out_of_reach_is_still_503_database_unavailable(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/s39/postgresql")
    assert r.status_code == 503, r.text
    assert r.json()["detail"]["reason"] == "database_unavailable"
    assert int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize("path", ["/s39/file", "/s39/socket"])
async def test_an_oserror_of_the_routes_own_io_is_a_500_not_the_database(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    # Before session 39: 503 database_unavailable with Retry-After.
    assert r.status_code == 500, r.text
    assert "database_unavailable" not in r.text and "retry-after" not in r.headers
