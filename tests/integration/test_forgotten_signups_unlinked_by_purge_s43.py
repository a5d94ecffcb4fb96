"""Sign-ups the previous release's API forgets during an upgrade are unlinked by the purge
(session 43's upgrade audit).

Migration 0416 gave rejected and lapsed sign-ups 'forgotten-<registration id>' for the
helper id keyed from (community, phone), once. deploy/README's upgrade runs the migrations
first, then replaces the API: in between the previous release's API still serves, and its
`forget` (a rejection) and hourly `lapse` keep the keyed id. Nothing ran 0416's statement
again, so those rows stayed linked to the same number signing up later (staff's
`?status=rejected` list: same_phone 1). Now every purge runs it
(`registrations.unlink_forgotten`, counted as `signups_unlinked`). On the real PostgreSQL,
every migration applied, the previous release's statements run as they were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.record import retention
from dispatcher.record.edge import registrations
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from schemas.helpers import HelperProfile
from schemas.places import PlacePath
from tests.support.migrated_db import MIGRATIONS, database_at

C = "c-s43-unlink"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
PHONES = {"rejected": "13912340431", "lapsed": "13912350431", "approved": "13912360431"}

# Session 41's `forget` and `lapse` (dispatcher/record/edge/registrations.py at 35d8f1a):
# they forget the person but keep `helper_id`.
PREVIOUS_FORGET = """
    UPDATE helper_registrations SET profile = NULL, phone_key = NULL,
        display_name = CASE WHEN status = ANY($2::text[]) THEN '' ELSE display_name END,
        building_name = CASE WHEN status = ANY($2::text[]) THEN '' ELSE building_name END,
        channel = CASE WHEN status = ANY($2::text[]) THEN NULL ELSE channel END
    WHERE registration_id = $1
"""
PREVIOUS_LAPSE = """
    UPDATE helper_registrations
    SET status = 'lapsed', decided_at = $2, profile = NULL, phone_key = NULL,
        display_name = '', building_name = '', channel = NULL
    WHERE status = 'pending' AND created_at < $1
"""


def keyed(phone: str) -> str:
    return keyed_helper_id(id_key(Settings(mode="dev")), C, phone)


async def sign_up(db: asyncpg.Connection, phone: str, at: datetime) -> str:
    place = PlacePath(community_id=C, compound_id="cp", building_id="b3", building_name="3号楼")
    profile = HelperProfile(helper_id=keyed(phone), name="林阿姨", phone=phone, place=place)
    return await registrations.submit(db, profile, None, "n", at, f"pk-{phone}")


async def ids(db: asyncpg.Connection) -> dict[str, str]:
    rows = await db.fetch("SELECT registration_id, helper_id FROM helper_registrations")
    return {r["registration_id"]: r["helper_id"] for r in rows}


async def test_a_purge_unlinks_signups_the_previous_api_forgot_after_0416(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_at(stack, MIGRATIONS[-1][0], monkeypatch) as db:  # 0416 applied
        rid = {who: await sign_up(db, phone, T0) for who, phone in PHONES.items()}
        decided = T0 + timedelta(days=1)
        # The previous API, still serving: staff reject one (its `claim`, then its `forget`)
        # and approve one; its hourly purge lapses the undecided one.
        assert await registrations.claim(db, rid["rejected"], "rejected", "zhang", decided)
        await db.execute(PREVIOUS_FORGET, rid["rejected"], ["rejected", "lapsed"])
        assert await registrations.claim(db, rid["approved"], "approved", "zhang", decided)
        await db.execute(PREVIOUS_FORGET, rid["approved"], ["rejected", "lapsed"])
        lapsed = await db.execute(PREVIOUS_LAPSE, T0 + timedelta(days=30), T0 + timedelta(days=31))
        assert lapsed == "UPDATE 1"
        # Months later each number signs up again: linked to the forgotten rows.
        later = T0 + timedelta(days=90)
        again = {who: await sign_up(db, phone, later) for who, phone in PHONES.items()}
        [shown] = await registrations.listed(db, C, "rejected")
        assert (shown["helper_id"], shown["same_phone"]) == (keyed(PHONES["rejected"]), 1)

        # This release's purge, once.
        done = await retention.purge(db, later + timedelta(hours=1), 30, signup_pending_days=30)

        assert await ids(db) == {
            rid["rejected"]: f"forgotten-{rid['rejected']}",
            rid["lapsed"]: f"forgotten-{rid['lapsed']}",
            rid["approved"]: keyed(PHONES["approved"]),  # the roster's: kept
            **{r: keyed(PHONES[who]) for who, r in again.items()},  # pending: untouched
        }
        assert (done.signups_unlinked, done.signups_lapsed) == (2, 0)
        for status in ("rejected", "lapsed"):
            [shown] = await registrations.listed(db, C, status)
            assert (shown["helper_id"], shown["same_phone"]) == (f"forgotten-{rid[status]}", 0)
        # A second run finds nothing left to do.
        again_done = await retention.purge(
            db, later + timedelta(hours=2), 30, signup_pending_days=30
        )
        assert again_done.signups_unlinked == 0
