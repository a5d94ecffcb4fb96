"""Migration 0399 on the real PostgreSQL: a database at 0398 whose event log holds closing
notes' boxes and helpers' names for the group (as the record agent wrote them before session
34) keeps neither, and nothing else of those rows or of other rows changes; a second run
changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from dispatcher.record import migrate
from dispatcher.testing.stack import LocalStack
from tests.support.migrated_db import MIGRATIONS, database_at, log_bodies, log_events

MIGRATION = next(m for m in MIGRATIONS if m[0] == 399)
BOX = {"kid": "k1", "box": "c2VhbGVk"}
AT = datetime(2026, 12, 6, tzinfo=UTC)

# event id → (type, body as the record agent logged it before session 34)
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "cancelled": ("request_cancelled", {"by": "requester", "reason": "", "sealed_note": BOX}),
    "resolved": ("request_resolved", {"by": "staff", "helper_ids": ["h1"], "sealed_note": BOX}),
    "referred": (
        "request_referred",
        {"to": "department", "department": "街道", "sealed_note": BOX},
    ),
    "assigned": ("helper_assigned", {"helper_id": "h1", "slot": 0, "sealed_group_name": BOX}),
    "assigned-old": ("helper_assigned", {"helper_id": "h2", "slot": 1, "group_name": "林阿姨"}),
    "plain-close": ("request_cancelled", {"by": "staff", "reason": ""}),
    # Another kind with a key of the same name is not the migration's.
    "other": ("command_rejected", {"reason": "x", "sealed_note": "not a closing note"}),
}
EXPECTED = {
    "cancelled": {"by": "requester", "reason": ""},
    "resolved": {"by": "staff", "helper_ids": ["h1"]},
    "referred": {"to": "department", "department": "街道"},
    "assigned": {"helper_id": "h1", "slot": 0},
    "assigned-old": {"helper_id": "h2", "slot": 1},
    "plain-close": ROWS["plain-close"][1],
    "other": ROWS["other"][1],
}


@pytest.fixture
async def db_at_0398(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[asyncpg.Connection]:
    async with database_at(stack, 398, monkeypatch) as conn:
        yield conn


async def test_0399_takes_names_and_closing_notes_out_of_the_log(
    db_at_0398: asyncpg.Connection,
) -> None:
    db = db_at_0398
    await log_events(db, ROWS, AT, "c-0399")
    assert await log_bodies(db) == {k: b for k, (_, b) in ROWS.items()}
    await migrate.apply_migrations(db)  # 0399 and whatever came after
    assert await db.fetchval("SELECT max(version) FROM schema_migrations") >= 399
    after = await log_bodies(db)
    assert after == EXPECTED
    # A second run of its statements changes nothing.
    await db.execute(MIGRATION[2])
    assert await log_bodies(db) == after
