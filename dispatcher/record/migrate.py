"""Apply the numbered plain-SQL migrations in `migrations/`, each once, in order.

A PostgreSQL advisory lock makes concurrent runs (API and worker starting together) safe. It
is transaction-scoped: each migration takes it in its own transaction and checks there whether
another run applied it meanwhile, so nothing holds it past a transaction's end, even a run
cancelled mid-statement (a session-level lock outlives such a run on its connection). And a
run has its own connection, closed (or dropped) whatever happens: never a pooled one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib import resources

import asyncpg

from dispatcher.record.connect import connect
from dispatcher.settings import Settings, get_settings

_LOCK_KEY = 0x6E_65_69_67  # "neig": any constant shared by every runner
EX_UNAVAILABLE = 69  # sysexits.h: a service we need is not there
# Not reached or not let in: down, starting, full, a wrong host, user, password or database.
UNREACHABLE = (
    OSError,  # refused, no such host, timed out
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)


def migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("dispatcher.record") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {numbers}")
    return found


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations on `conn`; return the names applied now."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
    applied_now: list[str] = []
    done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    for number, name, sql in migration_files():
        if number in done:
            continue  # applied for good: only a pending one needs the lock (and a re-check)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            if await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", number):
                continue  # applied before, or by a concurrent run while this one waited
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", number, name
            )
        applied_now.append(name)
    return applied_now


async def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations on a connection of their own."""
    return await migrate_on(await asyncpg.connect(settings.pg_dsn.get_secret_value()))


async def migrate_on(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations on `conn`, a connection of their own: closed, or dropped on
    a failure, whatever happens."""
    try:
        applied = await apply_migrations(conn)
    except BaseException:
        # Failed or cancelled (maybe mid-statement, maybe cancelled again in the rollback):
        # drop the connection at once, no await, and with it whatever transaction (and lock)
        # the step left open; a statement the server still runs ends first. Not `close()`:
        # cancelled, asyncpg 0.31's `close` leaves the socket open (it marks the protocol
        # closing, and `terminate` then does nothing).
        conn.terminate()
        raise
    await conn.close()
    return applied


async def _migrate_cli(settings: Settings) -> list[str]:
    # `connect`: a DSN that cannot be used raises DsnError, one line in `python -m dispatcher`
    # (asyncpg's own timeout kept). The worker's start-up keeps `migrate`.
    conn = await connect(settings.pg_dsn.get_secret_value(), timeout=60)
    return await migrate_on(conn)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher migrate", description="Apply pending PostgreSQL migrations."
    )
    parser.parse_args(argv)
    try:
        applied = asyncio.run(_migrate_cli(get_settings()))
    except UNREACHABLE as exc:
        # One line, not a traceback: the cause, never the DSN (it may carry the password).
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(f"migrate: PostgreSQL (DISPATCH_PG_DSN) not reachable: {reason}", file=sys.stderr)
        return EX_UNAVAILABLE
    print(f"migrations applied now: {applied or 'none (up to date)'}")
    return 0
