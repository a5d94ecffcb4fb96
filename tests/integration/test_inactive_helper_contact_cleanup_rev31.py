"""Review 31: helpers deactivated before review 30 kept their contact.

Since review 30 a deactivation erases the helper's phone, name and platform user id from
the worker's profile, but a helper deactivated before is stored inactive with all of them.
Through the real parts: such a profile, written to the worker's helper table as the old
deactivation wrote it, loses them once the worker (rebuilt from that table) is touched by
`reseal-helpers`; the helper who stays keeps theirs. In PostgreSQL, the platform accounts
of helpers retired or deactivated before go (migration 0393), and a ledger's retirement
now deletes the retired helper's account with their name."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dispatcher.kafka_security import client_options
from dispatcher.maintenance.helper_table import read_helper_states
from dispatcher.record.migrate import apply_migrations
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack, Proc
from schemas.helpers import HelperProfile
from streams.state_store import PROFILE_SUFFIX, decode_record, encode_profile
from tests.support.helper_contact import opened, reseal
from tests.support.waiting import eventually

C = "comm-rev31-retired"
HEAD = "编号,姓名,电话,小区编号,小区,楼栋,平台账号\n"
ROWS = {
    "gone-31": "gone-31,郑师傅,13800000341,c1,图强小区,3号楼,wx-zheng\n",
    "left-31": "left-31,冯阿姨,13800000342,c1,图强小区,4号楼,wx-feng\n",
    "stay-31": "stay-31,许先生,13800000343,c1,图强小区,5号楼,wx-xu\n",
    "left-31b": "left-31b,何阿姨,13800000344,c1,图强小区,6号楼,wx-he\n",
    "stay-31b": "stay-31b,吕先生,13800000345,c1,图强小区,7号楼,wx-lv\n",
}
FIRST = ("gone-31", "left-31", "stay-31")
STAFF = {"Authorization": "Bearer dev-staff-token", "content-type": "text/csv; charset=utf-8"}


async def import_ledger(stack: LocalStack, community: str, *ids: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        r = await client.post(
            f"/v1/admin/communities/{community}/roster",
            content=(HEAD + "".join(ROWS[i] for i in ids)).encode(),
            headers=STAFF,
        )
    assert r.status_code == 200 and r.json()["imported"] == len(ids), r.text
    report: dict[str, Any] = r.json()
    return report


async def profiles(settings: Settings) -> dict[str, HelperProfile]:
    return {s.helper_id: s.profile for s in await read_helper_states(settings)}


def holds_nothing(profile: HelperProfile) -> bool:
    boxes = (profile.sealed_phone, profile.sealed_name, profile.sealed_detail)
    plain = (profile.phone, profile.phone_key, profile.platform_user_id)
    return boxes == (None,) * 3 and plain == (None,) * 3 and profile.name == ""


async def changelog_partition(settings: Settings, key: bytes) -> int:
    """The partition of the helper table's changelog that holds `key` (read to its end)."""
    topic = f"{settings.app_id}-helpers-changelog"
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        found: int | None = None
        ends: dict[TopicPartition, int] = {}
        while not ends or [tp for tp in ends if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found = next((r.partition for r in records if r.key == key), found)
            if not ends and consumer.assignment():
                ends = await consumer.end_offsets(list(consumer.assignment()))
    finally:
        await consumer.stop()
    assert found is not None, key
    return found


async def store_as_the_old_deactivation(stack: LocalStack, profile: HelperProfile) -> None:
    """The profile record the worker wrote for a DeactivateHelper before review 30: the
    profile inactive, every box kept (the worker is stopped: it reads it at its start)."""
    settings = stack.settings()
    key = (profile.helper_id + PROFILE_SUFFIX).encode()
    partition = await changelog_partition(settings, key)
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        old = profile.model_copy(update={"active": False})
        value = encode_profile(partition, old)
        assert decode_record(value)[0] == partition
        await producer.send_and_wait(
            f"{settings.app_id}-helpers-changelog", value, key=key, partition=partition
        )
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def running(stack: LocalStack) -> tuple[LocalStack, Proc]:
    worker = stack.start_worker()
    await stack.start_api()
    return stack, worker


async def test_a_helper_deactivated_before_loses_the_contact_in_the_worker_and_postgresql(
    running: tuple[LocalStack, Proc],
) -> None:
    stack, worker = running
    settings = stack.settings()
    await import_ledger(stack, C, *FIRST)

    async def all_stored() -> dict[str, HelperProfile] | None:
        found = await profiles(settings)
        return found if all(h in found for h in FIRST) else None

    before = await eventually(all_stored, what="the ledger's helpers in the worker's table")
    assert opened(settings, before["gone-31"]) == (
        "13800000341",
        "郑师傅",
        "wx-zheng",
    )

    db = await asyncpg.connect(stack.pg_dsn)
    try:
        await eventually(
            lambda: db.fetchval("SELECT count(*) = 3 FROM helpers WHERE community_id = $1", C),
            what="the helpers in the read model",
        )
        # What the old code left: the worker's profile inactive with its contact ...
        worker.stop()
        await store_as_the_old_deactivation(stack, before["gone-31"])
        stored = await profiles(settings)
        assert not stored["gone-31"].active and opened(settings, stored["gone-31"])[1] == "郑师傅"
        # ... and in PostgreSQL the platform accounts of a helper deactivated (the read
        # model's `active`) and of one a ledger retired (their name erased by 0391 already).
        await db.execute(
            "UPDATE helpers SET active = false, updated_at = now() WHERE helper_id = 'gone-31'"
        )
        await db.execute(
            "UPDATE roster_members SET retired_at = now(), display_name = '' "
            "WHERE helper_id = 'left-31'"
        )
        # A listing again on its way (its account written after the deactivation): kept.
        await db.execute(
            "INSERT INTO helpers (helper_id, community_id, display_name, profile, active, "
            "updated_at) VALUES ('back-31', $1, '', '{}', false, now() - interval '1 hour')",
            C,
        )
        await db.execute(
            "INSERT INTO platform_accounts (community_id, helper_id, account_hash, updated_at)"
            " VALUES ($1, 'back-31', 'hash-back', now())",
            C,
        )
        await db.execute("DELETE FROM schema_migrations WHERE version = 393")
        assert await apply_migrations(db) == ["0393_inactive_helper_accounts.sql"]
        accounts = await db.fetch(
            "SELECT helper_id FROM platform_accounts WHERE community_id = $1 ORDER BY 1", C
        )
        assert [r["helper_id"] for r in accounts] == ["back-31", "stay-31"]
    finally:
        await db.close()

    # The worker rebuilt from that table holds no contact of theirs; the run writes it so.
    stack.start_worker()
    dry_status, pending = reseal(stack, "--dry-run")
    status, report = reseal(stack, "--wait", "180")
    states = {s.helper_id: s for s in await read_helper_states(settings)}
    gone = states["gone-31"]
    assert not gone.profile.active and holds_nothing(gone.profile)
    assert gone.profile.place.building_id == before["gone-31"].place.building_id
    assert gone.household_pairs == ()
    assert opened(settings, states["stay-31"].profile) == ("13800000343", "许先生", "wx-xu")
    assert (dry_status, pending.get("to_erase"), pending["left"]) == (1, 1, 1), pending
    assert (status, report["to_erase"], report["left"]) == (0, 1, 0), report


async def test_a_ledger_retirement_deletes_the_platform_account(
    running: tuple[LocalStack, Proc],
) -> None:
    stack, _ = running
    community = "comm-rev31-retire"
    await import_ledger(stack, community, "left-31b", "stay-31b")
    await import_ledger(stack, community, "stay-31b")
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        rows = await db.fetch(
            "SELECT helper_id FROM platform_accounts WHERE community_id = $1 ORDER BY 1",
            community,
        )
    finally:
        await db.close()
    assert [r["helper_id"] for r in rows] == ["stay-31b"]
