"""Apply the numbered plain-SQL migrations in `migrations/`, each once, in order.

A PostgreSQL advisory lock makes concurrent runs (API and worker starting together) safe.
"""

from __future__ import annotations

import argparse
import asyncio
from importlib import resources

import asyncpg

from dispatcher.settings import Settings, get_settings

_LOCK_KEY = 0x6E_65_69_67  # "neig": any constant shared by every runner


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
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for number, name, sql in migration_files():
            if number in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", number, name
                )
            applied_now.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def migrate(settings: Settings) -> list[str]:
    conn = await asyncpg.connect(settings.pg_dsn.get_secret_value())
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher migrate", description="Apply pending PostgreSQL migrations."
    )
    parser.parse_args(argv)
    applied = asyncio.run(migrate(get_settings()))
    print(f"migrations applied now: {applied or 'none (up to date)'}")
    return 0
