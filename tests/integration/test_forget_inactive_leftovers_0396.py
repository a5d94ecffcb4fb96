"""Migration 0396: helpers deactivated before staff's deactivation forgot them keep nothing.

Staff deactivating a helper now forgets, as a ledger's retirement does (`_forget` in
dispatcher/record/edge/roster_members.py), their `roster_members` name, their platform
account, their phone's digest and the name on their decided sign-ups. On the real
PostgreSQL: a database at migration 0395 holding such leftovers of helpers the worker
recorded inactive loses exactly what `_forget` would erase (the same rows, the same
values), while an active helper's rows, rows written after the deactivation (the helper
listed again) and another community's rows stay; a second run changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from dispatcher.record import migrate
from dispatcher.record.edge.roster_members import RosterMembers
from dispatcher.testing.stack import LocalStack
from tests.support.migrated_db import MIGRATIONS, database_at

C = "comm-0396"
OTHER = "comm-0396-other"
MIGRATION = "0396_forget_inactive_leftovers.sql"
DEACTIVATED = datetime(2026, 12, 1, 12, tzinfo=UTC)  # the inactive helpers' last update
BEFORE = DEACTIVATED - timedelta(days=1)
AFTER = DEACTIVATED + timedelta(hours=1)  # a listing again, its command not applied yet
RETIRED = DEACTIVATED - timedelta(hours=2)  # a ledger's retirement (name erased by then)

# helper id → (active, when its rows were written)
HELPERS = {"gone": (False, BEFORE), "left": (False, BEFORE), "stay": (True, BEFORE)}
HELPERS["back"] = (False, AFTER)
INACTIVE = ["gone", "left"]  # inactive, with rows from before: what 0396 is for


@pytest.fixture
async def db_at_0395(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own with the migrations up to 0395 applied."""
    async with database_at(stack, 395, monkeypatch) as conn:
        yield conn


def up_to(number: int) -> list[tuple[int, str, str]]:
    return [m for m in MIGRATIONS if m[0] <= number]


async def seed(db: asyncpg.Connection) -> None:
    for helper_id, (active, written) in HELPERS.items():
        await db.execute(
            "INSERT INTO helpers (helper_id, community_id, display_name, profile, active,"
            " updated_at) VALUES ($1, $2, '', '{}', $3, $4)",
            helper_id,
            C,
            active,
            DEACTIVATED,
        )
        await leftovers(db, C, helper_id, written)
    # As a ledger retired "left" before: its name erased then, its retirement kept.
    await db.execute(
        "UPDATE roster_members SET display_name = '', retired_at = $1 WHERE helper_id = 'left'",
        RETIRED,
    )
    # "gone" is an id of another community's ledger too (ids are not per community): the
    # helper row, inactive, is this community's.
    await leftovers(db, OTHER, "gone", BEFORE)


async def leftovers(db: asyncpg.Connection, community: str, helper_id: str, at: datetime) -> None:
    """A roster name, platform account, phone digest, a decided and a pending sign-up."""
    await db.execute(
        "INSERT INTO roster_members (community_id, helper_id, compound_id, display_name,"
        " listed_at, position) VALUES ($1, $2, 'c1', $3, $4, 0)",
        community,
        helper_id,
        f"name-{helper_id}",
        at,
    )
    await db.execute(
        "INSERT INTO platform_accounts (community_id, helper_id, account_hash, updated_at)"
        " VALUES ($1, $2, $3, $4)",
        community,
        helper_id,
        f"hash-{helper_id}",
        at,
    )
    await db.execute(
        "INSERT INTO helper_phone_keys (community_id, helper_id, phone_key, updated_at)"
        " VALUES ($1, $2, $3, $4)",
        community,
        helper_id,
        f"key-{helper_id}",
        at,
    )
    for status, decided in (("approved", at), ("pending", None)):
        await db.execute(
            "INSERT INTO helper_registrations (registration_id, community_id, helper_id,"
            " display_name, building_name, skills, invite_nonce, status, created_at,"
            " decided_at) VALUES ($1, $2, $3, $4, '3号楼', '{}', 'n', $5, $6, $7)",
            f"{community}-{helper_id}-{status}",
            community,
            helper_id,
            f"signed-{helper_id}",
            status,
            at,
            decided,
        )


Snapshot = dict[str, list[tuple[Any, ...]]]

TABLES = {
    # retired or not (the value is checked apart: `_forget` writes its clock's time)
    "roster_members": "community_id, helper_id, compound_id, display_name, listed_at,"
    " retired_at IS NOT NULL, position",
    "platform_accounts": "community_id, helper_id, account_hash, updated_at",
    "helper_phone_keys": "community_id, helper_id, phone_key, updated_at",
    "helper_registrations": "registration_id, community_id, helper_id, display_name, status,"
    " decided_at",
}


async def snapshot(db: asyncpg.Connection) -> Snapshot:
    return {
        table: [tuple(r) for r in await db.fetch(f"SELECT {columns} FROM {table} ORDER BY 1, 2")]
        for table, columns in TABLES.items()
    }


def rows_of(state: Snapshot, community: str, helper_id: str) -> Snapshot:
    """The rows of one helper of one community (community and helper id: columns 1-2 or
    2-3)."""

    def theirs(row: tuple[Any, ...]) -> bool:
        return (community, helper_id) in ((row[0], row[1]), (row[1], row[2]))

    return {table: [r for r in rows if theirs(r)] for table, rows in state.items()}


async def forgotten_by_the_api(db: asyncpg.Connection) -> Snapshot:
    """What `_forget` leaves when staff deactivate the inactive helpers now (rolled back)."""
    undo = db.transaction()
    await undo.start()
    try:
        await RosterMembers(db).retire(C, INACTIVE, AFTER)
        return await snapshot(db)
    finally:
        await undo.rollback()


async def retirements(db: asyncpg.Connection) -> dict[str, datetime | None]:
    rows = await db.fetch(
        "SELECT helper_id, retired_at FROM roster_members WHERE community_id = $1", C
    )
    return {r["helper_id"]: r["retired_at"] for r in rows}


async def test_0396_forgets_what_a_deactivation_forgets_for_inactive_helpers_only(
    db_at_0395: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = db_at_0395
    await seed(db)
    before = await snapshot(db)
    expected = await forgotten_by_the_api(db)
    assert await snapshot(db) == before  # rolled back

    monkeypatch.setattr(migrate, "migration_files", lambda: up_to(396))
    assert await migrate.apply_migrations(db) == [MIGRATION]
    after = await snapshot(db)

    for helper_id in INACTIVE:
        theirs = rows_of(after, C, helper_id)
        retired_nameless = (C, helper_id, "c1", "", BEFORE, True, 0)
        assert theirs["roster_members"] == [retired_nameless], theirs
        assert theirs["platform_accounts"] == theirs["helper_phone_keys"] == []
        names = {r[4]: r[3] for r in theirs["helper_registrations"]}
        assert names == {"approved": "", "pending": f"signed-{helper_id}"}  # pending: kept
    # An active helper, one listed again after the deactivation, another community's rows.
    for community, helper_id in ((C, "stay"), (C, "back"), (OTHER, "gone")):
        assert rows_of(after, community, helper_id) == rows_of(before, community, helper_id)
    # The same rows and values as the API's own deactivation leaves.
    assert after == expected
    # Retired when the worker recorded them inactive; an earlier retirement keeps its time.
    retired = await retirements(db)
    assert retired == {"gone": DEACTIVATED, "left": RETIRED, "stay": None, "back": None}

    # Run again (a database restored and migrated twice): nothing more changes.
    [(_, _, sql)] = [m for m in up_to(396) if m[1] == MIGRATION]
    await db.execute(sql)
    assert await snapshot(db) == after
    assert await retirements(db) == retired
