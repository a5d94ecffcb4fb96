"""Review 31 (F6): a helper off the roster leaves no name or platform account in the API's
tables, whichever way staff took them off.

A ledger's retirement already forgot the helper's `roster_members` name and deleted their
`platform_accounts` row (the keyed hash of the platform user id the worker's profile no
longer holds). Staff deactivating a helper through the admin API (`DELETE .../helpers/{id}`,
or a profile saved with `active: false`) kept both. Through the real API, Kafka and
PostgreSQL: each way of deactivating now forgets them, only for that helper of that
community, and a ledger listing the helper again writes them again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.api.platform_login import accounts as platform_login_accounts
from dispatcher.clock import utcnow
from dispatcher.testing.stack import LocalStack
from schemas.helpers import HelperProfile
from schemas.places import PlacePath

C = "comm-f6-leftovers"
OTHER = "comm-f6-other"
STAFF = {"Authorization": "Bearer dev-staff-token"}
HEAD = "编号,姓名,电话,小区编号,小区,楼栋,平台账号\n"
ROWS = {
    "f6-gone": "f6-gone,郑师傅,13800000641,c1,图强小区,3号楼,wx-f6-zheng\n",
    "f6-stay": "f6-stay,许先生,13800000642,c1,图强小区,5号楼,wx-f6-xu\n",
    "f6-put": "f6-put,冯阿姨,13800000643,c1,图强小区,4号楼,wx-f6-feng\n",
}


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    # Only the API: what is checked is what it writes to PostgreSQL itself.
    await stack.start_api()
    yield stack


async def import_ledger(
    client: httpx.AsyncClient, community: str, *ids: str, dry_run: bool = False
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/admin/communities/{community}/roster",
        params={"dry_run": "true"} if dry_run else {},
        content=(HEAD + "".join(ROWS[i] for i in ids)).encode(),
        headers={**STAFF, "content-type": "text/csv; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


async def accounts(db: asyncpg.Connection, community: str) -> set[str]:
    rows = await db.fetch(
        "SELECT helper_id FROM platform_accounts WHERE community_id = $1", community
    )
    return {r["helper_id"] for r in rows}


async def names(db: asyncpg.Connection, community: str) -> dict[str, tuple[str, bool]]:
    """helper id → (name, retired) as `roster_members` holds them."""
    rows = await db.fetch(
        "SELECT helper_id, display_name, retired_at IS NOT NULL AS retired "
        "FROM roster_members WHERE community_id = $1",
        community,
    )
    return {r["helper_id"]: (r["display_name"], r["retired"]) for r in rows}


def helper_body(helper_id: str, *, active: bool) -> dict[str, Any]:
    return {
        "helper_id": helper_id,
        "name": "冯阿姨",
        "phone": "13800000643",
        "place": {"community_id": C, "compound_id": "c1", "building_id": "b4"},
        "platform_user_id": "wx-f6-feng",
        "active": active,
    }


async def test_staff_deactivation_forgets_the_roster_name_and_platform_account(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await import_ledger(client, C, "f6-gone", "f6-stay")
    assert await accounts(db, C) == {"f6-gone", "f6-stay"}
    assert await names(db, C) == {"f6-gone": ("郑师傅", False), "f6-stay": ("许先生", False)}

    # Their approved sign-up, as staff's decision left it (the profile, with the phone, gone).
    await db.execute(
        "INSERT INTO helper_registrations (registration_id, community_id, helper_id,"
        " display_name, building_name, skills, invite_nonce, status, created_at, decided_at)"
        " VALUES ($1, $2, $3, '郑师傅', '3号楼', '{}', 'n', 'approved', $4, $4)",
        "reg-f6-gone",
        C,
        "f6-gone",
        utcnow(),
    )

    r = await client.delete(f"/v1/admin/communities/{C}/helpers/f6-gone", headers=STAFF)
    assert r.status_code == 202, r.text
    assert await accounts(db, C) == {"f6-stay"}
    signed_up = await db.fetchval(
        "SELECT display_name FROM helper_registrations WHERE registration_id = 'reg-f6-gone'"
    )
    assert signed_up == ""
    assert await names(db, C) == {"f6-gone": ("", True), "f6-stay": ("许先生", False)}
    # Gone already: a ledger leaving them out neither retires nor names them again.
    later = await import_ledger(client, C, "f6-stay", dry_run=True)
    assert later["retired"] == [], later

    # Listed again: on the roster again, named and with their account.
    await import_ledger(client, C, "f6-gone", "f6-stay")
    assert await accounts(db, C) == {"f6-gone", "f6-stay"}
    assert (await names(db, C))["f6-gone"] == ("郑师傅", False)


async def test_a_deactivation_in_another_community_erases_nothing_here(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Staff naming this community's helper under another community's path (as staff of
    that one could) deactivate nobody here and erase nothing here."""
    await import_ledger(client, C, "f6-gone", "f6-stay")
    r = await client.delete(f"/v1/admin/communities/{OTHER}/helpers/f6-stay", headers=STAFF)
    assert r.status_code == 202, r.text
    assert "f6-stay" in await accounts(db, C)
    assert (await names(db, C))["f6-stay"] == ("许先生", False)


async def test_a_profile_saved_inactive_keeps_no_platform_account(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # Created inactive: no account is recorded.
    r = await client.put(
        "/v1/admin/helpers/f6-new", json=helper_body("f6-new", active=False), headers=STAFF
    )
    assert r.status_code == 202, r.text
    assert "f6-new" not in await accounts(db, C)

    # Listed by a ledger, then saved inactive by staff: account and name forgotten.
    await import_ledger(client, C, "f6-put")
    assert "f6-put" in await accounts(db, C)
    r = await client.put(
        "/v1/admin/helpers/f6-put", json=helper_body("f6-put", active=False), headers=STAFF
    )
    assert r.status_code == 202, r.text
    assert "f6-put" not in await accounts(db, C)
    assert (await names(db, C))["f6-put"] == ("", True)

    # Saved active again: the account is recorded again.
    r = await client.put(
        "/v1/admin/helpers/f6-put", json=helper_body("f6-put", active=True), headers=STAFF
    )
    assert r.status_code == 202, r.text
    assert "f6-put" in await accounts(db, C)


async def test_the_accounts_record_skips_and_forgets_inactive_profiles(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    """Whoever saves the profiles (staff, a ledger import): only an active one's account."""
    settings = api.settings()
    place = PlacePath(community_id=OTHER, compound_id="c1", building_id="b1")

    def profile(helper_id: str, *, active: bool) -> HelperProfile:
        return HelperProfile(
            helper_id=helper_id, place=place, platform_user_id=f"wx-{helper_id}", active=active
        )

    saved = [profile("f6-on", active=True), profile("f6-off", active=False)]
    await platform_login_accounts.remember(db, settings, OTHER, saved, utcnow())
    assert await accounts(db, OTHER) == {"f6-on"}
    later = [profile("f6-on", active=False)]
    await platform_login_accounts.remember(db, settings, OTHER, later, utcnow())
    assert await accounts(db, OTHER) == set()
