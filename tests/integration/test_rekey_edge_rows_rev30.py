"""Review 30: `rekey-helpers` moved a helper to its keyed id but left what the API keeps in
PostgreSQL under the old id: the platform login then found nobody for every moved helper
with a 平台账号, a ledger re-import could not retire them (roster_members) and the household
ledger could not end their 结对. The same run now moves those rows; a re-run changes
nothing, and one after an earlier release's run moves what it left behind."""

from __future__ import annotations

import asyncpg
import pytest

from dispatcher.api.platform_login import accounts
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.api.roster_import import send_commands
from dispatcher.clock import utcnow
from dispatcher.helper_ids import id_key, keyed_helper_id, legacy_helper_id
from dispatcher.record.edge import phone_keys
from dispatcher.record.edge.roster_members import RosterMembers
from dispatcher.roster.ledger import RosterPlace, parse_roster
from dispatcher.sealing import keyring, seal_profile
from dispatcher.testing.stack import LocalStack
from schemas.commands import UpsertHelper
from tests.support.cli import run_cli
from tests.support.waiting import eventually

C = "comm-rekey-rows"
PHONE = "13800000201"
LEDGER = f"姓名,电话,小区编号,小区,楼栋,平台账号\n陈师傅,{PHONE},c2,二号小区,5号楼,wx-chen\n"
MOVED = (
    "platform_accounts_moved",
    "roster_members_moved",
    "household_pairings_moved",
    "phone_keys_moved",
)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.start_worker()
    return stack


async def members(db: asyncpg.Connection) -> list[tuple[str, str, str, int]]:
    rows = await db.fetch(
        "SELECT helper_id, compound_id, display_name, position FROM roster_members "
        "WHERE community_id = $1 ORDER BY helper_id",
        C,
    )
    return [(r["helper_id"], r["compound_id"], r["display_name"], r["position"]) for r in rows]


async def pairings(db: asyncpg.Connection) -> list[str]:
    found = await db.fetchval(
        "SELECT paired_helper_ids FROM households "
        "WHERE community_id = $1 AND household_id = 'hh-1'",
        C,
    )
    return list(found)


async def keys(db: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT helper_id, phone_key FROM helper_phone_keys WHERE community_id = $1", C
    )
    return [(r["helper_id"], r["phone_key"]) for r in rows]


async def test_rekey_moves_the_platform_account_roster_row_and_pairings(api: LocalStack) -> None:
    settings = api.settings()
    db = await asyncpg.connect(api.pg_dsn)
    # A helper imported before issue 12, as that import left them: a legacy id, the platform
    # account and the roster row remembered, a 结对 naming them, the profile queued sealed.
    ((_, p),) = parse_roster(LEDGER.encode(), RosterPlace(C)).profiles
    old = legacy_helper_id(C, PHONE)
    new = keyed_helper_id(id_key(settings), C, PHONE)
    assert p.helper_id == old
    now = utcnow()
    await accounts.remember(db, settings, C, [p], now)
    await RosterMembers(db).record(C, [p], [], now)
    digest = keyring(settings).phone_key(PHONE)
    await phone_keys.remember(db, C, [(old, digest)], now)
    await db.execute(
        "INSERT INTO households (community_id, household_id, place, paired_helper_ids, "
        "card_token, listed_at) VALUES ($1, 'hh-1', '{}', $2, 'card-rekey-rows', $3)",
        C,
        ["h-first", old, "h-last"],
        now,
    )
    sink = KafkaCommandSink(settings)
    try:
        upsert = UpsertHelper(profile=seal_profile(keyring(settings), p))
        await send_commands(settings, sink, C, [upsert], now)
    finally:
        await sink.stop()
    await eventually(
        lambda: db.fetchval("SELECT active FROM helpers WHERE helper_id = $1", old),
        what="the legacy helper recorded",
    )
    assert await accounts.helpers_for(db, settings, C, "wx-chen") == [old]

    report, _ = await run_cli(api, "rekey-helpers")
    assert report["sent"] == 1, report
    await eventually(
        lambda: db.fetchval("SELECT active FROM helpers WHERE helper_id = $1", new),
        what="the keyed helper recorded",
    )
    await eventually(
        lambda: db.fetchval("SELECT NOT active FROM helpers WHERE helper_id = $1", old),
        what="the legacy helper deactivated",
    )
    # The platform login finds the moved helper; the roster and the 结对 name the new id.
    assert await accounts.helpers_for(db, settings, C, "wx-chen") == [new]
    assert await members(db) == [(new, "c2", "陈师傅", 0)]
    assert await pairings(db) == ["h-first", new, "h-last"]
    assert await keys(db) == [(new, digest)]
    assert all(report[k] == 1 for k in MOVED), report

    # Idempotent: a second run moves and changes nothing.
    again, _ = await run_cli(api, "rekey-helpers")
    assert again["to_move"] == 0 and all(again[k] == 0 for k in MOVED), again
    assert await accounts.helpers_for(db, settings, C, "wx-chen") == [new]
    assert await members(db) == [(new, "c2", "陈师傅", 0)]
    assert await pairings(db) == ["h-first", new, "h-last"]

    # Rows an earlier release's run left under the old id are moved by the next run; what
    # the new id has already (written later) is kept.
    await db.execute("DELETE FROM roster_members WHERE community_id = $1", C)
    await RosterMembers(db).record(C, [p], [], now)  # orphaned under the old id
    await phone_keys.remember(db, C, [(old, "stale-digest")], now)
    await accounts.remember(
        db, settings, C, [p.model_copy(update={"platform_user_id": "wx-old"})], now
    )
    await db.execute(
        "UPDATE households SET paired_helper_ids = $2 WHERE community_id = $1", C, [old, new]
    )
    repaired, _ = await run_cli(api, "rekey-helpers")
    assert repaired["to_move"] == 0 and all(repaired[k] == 1 for k in MOVED), repaired
    assert await members(db) == [(new, "c2", "陈师傅", 0)]
    assert await accounts.helpers_for(db, settings, C, "wx-chen") == [new]
    assert await accounts.helpers_for(db, settings, C, "wx-old") == []
    assert await pairings(db) == [new]
    assert await keys(db) == [(new, digest)]  # the new id's own (written later) is kept
    await db.close()
