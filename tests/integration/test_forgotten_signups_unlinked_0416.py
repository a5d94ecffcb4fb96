"""A rejected or lapsed sign-up keeps no id the person's phone gives (audit F6, session 42).

A sign-up's `helper_id` is keyed from (community, phone) (`keyed_helper_id`): the same for
every sign-up with that phone. A rejection or a lapse forgot the name, building, channel,
profile and phone digest but kept that id, so when the same number signed up again (the
person, or anyone typing it) the new sign-up had the forgotten row's id: staff's
`?status=rejected`/`lapsed` list and the table linked the "forgotten" person to it. Now
`forget` and `lapse` (dispatcher/record/edge/registrations.py) set it to
'forgotten-<registration id>', and migration 0416 does it to rows forgotten before; an
approved sign-up keeps its id (the roster's), a pending one is untouched. On the real
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.record import migrate
from dispatcher.record.edge import registrations
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from schemas.helpers import HelperProfile
from schemas.places import PlacePath
from tests.support.migrated_db import MIGRATIONS, database_at

C = "c-0416"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
PHONES = {"rejected": "13912340416", "lapsed": "13912350416", "approved": "13912360416"}
MIGRATION = next(m for m in MIGRATIONS if m[0] == 416)
ROW = "SELECT * FROM helper_registrations WHERE registration_id = $1"


def keyed(phone: str) -> str:
    return keyed_helper_id(id_key(Settings(mode="dev")), C, phone)


def profile(phone: str, name: str) -> HelperProfile:
    place = PlacePath(community_id=C, compound_id="cp", building_id="b3", building_name="3号楼")
    return HelperProfile(helper_id=keyed(phone), name=name, phone=phone, place=place)


async def sign_up(db: asyncpg.Connection, phone: str, name: str, at: datetime) -> str:
    return await registrations.submit(db, profile(phone, name), None, "n", at, f"pk-{phone}")


async def decide(db: asyncpg.Connection, rid: str, status: str) -> None:
    assert await registrations.claim(db, rid, status, "zhang", T0 + timedelta(days=1))
    await registrations.forget(db, rid)


async def test_a_forgotten_signup_shares_no_id_with_the_same_phone_signing_up_again(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_at(stack, MIGRATIONS[-1][0], monkeypatch) as db:
        rid = {who: await sign_up(db, phone, "林阿姨", T0) for who, phone in PHONES.items()}
        await decide(db, rid["rejected"], "rejected")
        await decide(db, rid["approved"], "approved")
        # The purge a month on: the undecided one lapses.
        assert await registrations.lapse(db, T0 + timedelta(days=30), T0 + timedelta(days=31))

        rows = {who: dict(await db.fetchrow(ROW, r)) for who, r in rid.items()}
        assert rows["rejected"]["helper_id"] == f"forgotten-{rid['rejected']}"
        assert rows["lapsed"]["helper_id"] == f"forgotten-{rid['lapsed']}"
        assert rows["approved"]["helper_id"] == keyed(PHONES["approved"])  # the roster's

        # Months later each number signs up again (the person, or anyone typing it).
        again = {
            who: await sign_up(db, phone, "someone", T0 + timedelta(days=90))
            for who, phone in PHONES.items()
        }
        linked = await db.fetch(
            "SELECT a.status FROM helper_registrations a JOIN helper_registrations b"
            " USING (community_id, helper_id) WHERE a.status <> 'pending'"
            " AND b.registration_id = ANY($1::text[])",
            list(again.values()),
        )
        assert [r["status"] for r in linked] == ["approved"]  # on the roster: the same person
        for status in ("rejected", "lapsed"):
            [shown] = await registrations.listed(db, C, status)
            assert shown["helper_id"] == f"forgotten-{rid[status]}"
            assert (shown["same_phone"], shown["in_roster"]) == (0, False)
        pending = {r["registration_id"]: r for r in await registrations.listed(db, C, "pending")}
        assert pending[again["rejected"]]["helper_id"] == keyed(PHONES["rejected"])
        assert pending[again["lapsed"]]["same_phone"] == 1  # itself only
        # A forgotten row is decided: deciding it again finds nothing (409 in the API).
        assert await registrations.whose(db, rid["rejected"]) == (C, rows["rejected"]["helper_id"])
        assert await registrations.claim(db, rid["rejected"], "approved", "zhang", T0) is None


# registration id → status, as releases before session 42 left them
SEEDED = {
    "r-rejected": "rejected",
    "r-lapsed": "lapsed",
    "r-approved": "approved",
    "r-pending": "pending",
}


async def snapshot(db: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM helper_registrations ORDER BY registration_id")
    return {r["registration_id"]: dict(r) for r in rows}


async def test_0416_unlinks_the_signups_forgotten_before(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_at(stack, 415, monkeypatch) as db:
        for n, (rid, status) in enumerate(SEEDED.items()):
            await db.execute(
                "INSERT INTO helper_registrations (registration_id, community_id, helper_id,"
                " display_name, building_name, skills, invite_nonce, status, created_at)"
                " VALUES ($1, $2, $3, '', '', '{errands}', 'n', $4, $5)",
                rid,
                C,
                keyed(f"1391237041{n}"),
                status,
                T0,
            )
        before = await snapshot(db)
        await migrate.apply_migrations(db)  # 0416 and whatever came after
        after = await snapshot(db)
        assert {rid: row["helper_id"] for rid, row in after.items()} == {
            "r-rejected": "forgotten-r-rejected",
            "r-lapsed": "forgotten-r-lapsed",
            "r-approved": before["r-approved"]["helper_id"],
            "r-pending": before["r-pending"]["helper_id"],
        }
        for rid in SEEDED:  # nothing else changes
            assert {**after[rid], "helper_id": None} == {**before[rid], "helper_id": None}
        assert await db.execute(MIGRATION[2]) == "UPDATE 0"  # a second run finds nothing
