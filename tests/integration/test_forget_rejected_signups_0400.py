"""Migration 0400: sign-ups rejected before a rejection forgot the person keep nothing of them.

Staff rejecting a sign-up now clears its name, building and channel as well as the profile
(with the phone) and the phone's digest (`forget` in dispatcher/record/edge/registrations.py:
the person was never on the roster). On the real PostgreSQL: a database at migration 0399
holding rejected sign-ups with their names loses exactly what `forget` would erase (the
same rows, the same values), while approved and pending sign-ups, of this community or
another, stay as they were; a second run changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from dispatcher.record import migrate
from dispatcher.record.edge import registrations
from dispatcher.testing.stack import LocalStack
from tests.support.migrated_db import MIGRATIONS, database_at

C = "comm-0400"
OTHER = "comm-0400-other"
MIGRATION = "0400_forget_rejected_signups.sql"
SIGNED = datetime(2026, 11, 1, 9, tzinfo=UTC)
DECIDED = SIGNED + timedelta(days=1)
PROFILE = '{"phone": "13800000400"}'  # what a sign-up's profile holds (here only the phone)

# registration id → (community, status, channel, profile and phone digest kept)
SIGNUPS = {
    "r-gone": (C, "rejected", "webhook:phones", False),  # as the API left it before
    "r-default": (C, "rejected", None, False),  # the community's default channel
    "r-old": (C, "rejected", "webhook:phones", True),  # a profile never cleared
    "r-other": (OTHER, "rejected", "webhook:phones", False),
    "a-kept": (C, "approved", "webhook:phones", False),  # on the roster
    "p-kept": (C, "pending", "webhook:phones", True),  # staff have not decided
    "a-other": (OTHER, "approved", None, False),
}
REJECTED = [rid for rid, (_, status, _, _) in SIGNUPS.items() if status == "rejected"]


@pytest.fixture
async def db_at_0399(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own with the migrations up to 0399 applied."""
    async with database_at(stack, 399, monkeypatch) as conn:
        yield conn


def up_to(number: int) -> list[tuple[int, str, str]]:
    return [m for m in MIGRATIONS if m[0] <= number]


async def seed(db: asyncpg.Connection) -> None:
    for rid, (community, status, channel, kept) in SIGNUPS.items():
        await db.execute(
            "INSERT INTO helper_registrations (registration_id, community_id, helper_id,"
            " display_name, building_name, skills, channel, profile, invite_nonce, status,"
            " created_at, decided_at, decided_by, phone_key)"
            " VALUES ($1, $2, $3, $4, $5, '{errands}', $6, $7::jsonb, 'n', $8, $9, $10, $11,"
            " $12)",
            rid,
            community,
            f"h-{rid}",
            f"name-{rid}",
            "9号楼",
            channel,
            PROFILE if kept else None,
            status,
            SIGNED,
            None if status == "pending" else DECIDED,
            None if status == "pending" else "staff-token",
            f"key-{rid}" if kept else None,
        )


COLUMNS = (
    "registration_id, community_id, helper_id, display_name, building_name, skills, channel,"
    " profile, invite_nonce, status, created_at, decided_at, decided_by, phone_key"
)
Snapshot = list[tuple[Any, ...]]


async def snapshot(db: asyncpg.Connection) -> Snapshot:
    rows = await db.fetch(f"SELECT {COLUMNS} FROM helper_registrations ORDER BY 1")
    return [tuple(r) for r in rows]


async def forgotten_by_the_api(db: asyncpg.Connection) -> Snapshot:
    """What `forget` leaves when staff reject these sign-ups now (rolled back)."""
    undo = db.transaction()
    await undo.start()
    try:
        for rid in REJECTED:
            await registrations.forget(db, rid)
        return await snapshot(db)
    finally:
        await undo.rollback()


async def test_0400_forgets_what_a_rejection_forgets_for_rejected_sign_ups_only(
    db_at_0399: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = db_at_0399
    await seed(db)
    before = await snapshot(db)
    expected = await forgotten_by_the_api(db)
    assert await snapshot(db) == before  # rolled back

    monkeypatch.setattr(migrate, "migration_files", lambda: up_to(400))
    assert await migrate.apply_migrations(db) == [MIGRATION]
    after = await snapshot(db)

    by_id = {row[0]: row for row in after}
    for rid in REJECTED:
        row = dict(zip([c.strip() for c in COLUMNS.split(",")], by_id[rid], strict=True))
        assert (row["display_name"], row["building_name"], row["channel"]) == ("", "", None)
        assert (row["profile"], row["phone_key"]) == (None, None)
        # The row stays: its id, keyed helper id, skills, who decided and when.
        assert (row["status"], row["skills"], row["decided_at"]) == (
            "rejected",
            ["errands"],
            DECIDED,
        )
        assert row["helper_id"] == f"h-{rid}" and row["decided_by"] == "staff-token"
    # Approved (on the roster) and pending (undecided) sign-ups, here or elsewhere: as before.
    untouched = {rid for rid in SIGNUPS if rid not in REJECTED}
    assert [r for r in after if r[0] in untouched] == [r for r in before if r[0] in untouched]
    # The same rows and values as the API's own rejection leaves, but the keyed helper id,
    # which a rejection forgets since session 42 and migration 0416 takes
    # (tests/integration/test_forgotten_signups_unlinked_0416.py).
    assert [r[:2] + r[3:] for r in after] == [r[:2] + r[3:] for r in expected]
    assert [r[2] for r in expected if r[0] in REJECTED] == [
        f"forgotten-{r}" for r in sorted(REJECTED)
    ]

    # Run again (a database restored and migrated twice): nothing more changes.
    [(_, _, sql)] = [m for m in up_to(400) if m[1] == MIGRATION]
    assert await db.execute(sql) == "UPDATE 0"
    assert await snapshot(db) == after
