"""Finding 6: helper ids reversed to phone numbers (an unkeyed hash of 11 digits). The
attack enumerates phones under a known prefix and compares ids; it must find nothing for
ids the real API creates now, and the migration must move helpers off the old ids."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import asyncpg
import httpx
from pydantic import SecretStr

from dispatcher.helper_ids import id_key, keyed_helper_id, legacy_helper_id
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from tests.security.cli import run_json
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
KNOWN_PREFIX = "1380013"  # the attacker knows the first 7 digits: 10^4 candidates left
PHONE = "13800137531"
OLD_PHONE = "13800134242"
KEY = secrets.token_hex(32)
DEV_KEY = id_key(Settings())  # the dev default is public: an attacker may try it too


def reverse(helper_id: str, community: str, derive: Callable[[str, str], str]) -> str | None:
    for n in range(10_000):
        phone = f"{KNOWN_PREFIX}{n:04d}"
        if derive(community, phone) == helper_id:
            return phone
    return None


def attacks(community: str) -> list[Callable[[str, str], str]]:
    return [legacy_helper_id, lambda c, p: keyed_helper_id(DEV_KEY, c, p)]


def test_the_old_ids_reverse_and_keyed_ids_do_not() -> None:
    assert reverse(legacy_helper_id("c1", PHONE), "c1", legacy_helper_id) == PHONE
    keyed = keyed_helper_id(id_key(Settings(helper_id_key=SecretStr(KEY))), "c1", PHONE)
    for attack in attacks("c1"):
        assert reverse(keyed, "c1", attack) is None


async def active(dsn: str, helper_id: str) -> bool | None:
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval("SELECT active FROM helpers WHERE helper_id = $1", helper_id)
        return None if value is None else bool(value)
    finally:
        await conn.close()


def rekey(stack: LocalStack, *args: str) -> dict[str, int]:
    return run_json(stack, "rekey-helpers", *args)


async def test_ids_from_the_api_do_not_reverse_and_old_ids_are_migrated(
    stack: LocalStack,
) -> None:
    community = "sec-ids"
    stack.extra_env = {"DISPATCH_HELPER_ID_KEY": KEY}
    stack.start_worker("worker-ids")
    await stack.start_api()
    keyed = keyed_helper_id(id_key(stack.settings()), community, PHONE)
    legacy = legacy_helper_id(community, OLD_PHONE)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        ledger = f"姓名,手机,楼栋\n张建国,{PHONE},3号楼\n".encode()
        r = await client.post(
            f"/v1/admin/communities/{community}/roster",
            params={"compound_id": "c1"},
            content=ledger,
            headers={**STAFF, "content-type": "text/csv"},
        )
        assert r.status_code == 200 and r.json()["imported"] == 1, r.text
        # A helper registered under the old id, as the ledger import on main made them.
        old = builders.helper(legacy, community, ["driving"], phone=OLD_PHONE)
        r = await client.put(f"/v1/admin/helpers/{legacy}", json=old, headers=STAFF)
        assert r.status_code == 202, r.text
    await eventually(lambda: active(stack.pg_dsn, keyed), what="the imported helper")
    for attack in attacks(community):
        assert reverse(keyed, community, attack) is None

    async def pending() -> bool:
        return rekey(stack, "--dry-run")["to_move"] == 1

    await eventually(pending, what="the old-id helper in the workers' table")
    assert rekey(stack)["sent"] == 1
    new_id = keyed_helper_id(id_key(stack.settings()), community, OLD_PHONE)

    async def moved() -> bool:
        return await active(stack.pg_dsn, new_id) is True and (
            await active(stack.pg_dsn, legacy) is False
        )

    await eventually(moved, what="the helper moved to its keyed id")
    for attack in attacks(community):
        assert reverse(new_id, community, attack) is None

    async def done() -> bool:
        return rekey(stack, "--dry-run")["to_move"] == 0

    await eventually(done, what="nothing left to migrate")
