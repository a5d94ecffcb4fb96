"""`python -m dispatcher phone-keys`: the phone digests of helpers put on the roster before
migration 0395, through the real parts (ledger import, worker, changelog, PostgreSQL,
self-registration approval).

A staff approval of a sign-up is refused when an active roster helper of the community
holds its phone (one phone, one helper), but the API kept no digest of a helper imported
before 0395: the sign-up with their phone was approved as a second helper of one person,
and only re-importing the ledger helped. The helpers here are imported, then their digest
rows deleted (as before 0395): a sign-up with such a phone is not seen `in_roster` and its
approval goes through; after the backfill it is seen and refused. A helper off the roster,
or one the read model records inactive, gets no digest back; a second run and a dry run
write nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.sealing import keyring
from dispatcher.testing.stack import LocalStack
from tests.integration.test_one_phone_one_helper_f4 import join_path
from tests.support.cli import run_cli, run_cli_text
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
C = "pk-backfill"
HEADER = "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
PHONES = {"pkb-a": "13800000611", "pkb-b": "13800000612", "pkb-c": "13800000613"}
PHONES |= {"pkb-d": "13800000614", "pkb-e": "13800000615"}
ROWS = {h: f"{h},师傅{h[-1]},{p},c1,图强小区,g1,5号楼,搬运,否,志愿者,\n" for h, p in PHONES.items()}
REGS = f"/v1/staff/communities/{C}/registrations"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.start_worker()
    await stack.start_api()
    return stack


async def ledger(client: httpx.AsyncClient, *helpers: str) -> None:
    rows = HEADER + "".join(ROWS[h] for h in helpers)
    r = await client.post(
        f"/v1/admin/communities/{C}/roster",
        content=rows.encode(),
        headers={**STAFF, "content-type": "text/csv; charset=utf-8"},
    )
    assert r.status_code == 200 and r.json()["imported"] == len(helpers), r.text


async def active(db: asyncpg.Connection, helper_id: str) -> bool | None:
    found: bool | None = await db.fetchval(
        "SELECT active FROM helpers WHERE helper_id = $1", helper_id
    )
    return found


async def digests(db: asyncpg.Connection) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT helper_id, phone_key FROM helper_phone_keys WHERE community_id = $1", C
    )
    return {r["helper_id"]: r["phone_key"] for r in rows}


async def sign_up(api: LocalStack, client: httpx.AsyncClient, name: str, phone: str) -> str:
    form = {"name": name, "phone": phone, "building": "5号楼", "channel": ""}
    assert (await client.post(join_path(api, C), data=form)).status_code == 200
    [found] = [s for s in await pending(client) if s["display_name"] == name]
    return str(found["registration_id"])


async def pending(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get(REGS, headers=STAFF)
    assert r.status_code == 200, r.text
    return list(r.json())


async def in_roster(client: httpx.AsyncClient, registration_id: str) -> bool:
    [found] = [s for s in await pending(client) if s["registration_id"] == registration_id]
    return bool(found["in_roster"])


async def test_helpers_from_before_0395_get_their_digest_and_the_sign_up_is_refused(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    ring = keyring(api.settings())
    await ledger(client, "pkb-a", "pkb-b", "pkb-c", "pkb-d", "pkb-e")
    for helper_id in PHONES:
        await eventually(lambda h=helper_id: active(db, h), what=f"{helper_id} on the roster")
    # pkb-c off the roster (the ledger no longer lists it); the worker applies the upserts
    # before this deactivation (one partition, in order), so the read model has them too.
    await ledger(client, "pkb-a", "pkb-b", "pkb-d", "pkb-e")
    await eventually(
        lambda: db.fetchval("SELECT NOT active FROM helpers WHERE helper_id = 'pkb-c'"),
        what="pkb-c deactivated",
    )
    # As before 0395: no digest kept. And pkb-d deactivated between the command's read of
    # the changelog (active there) and its write: the read model records it inactive.
    await db.execute("DELETE FROM helper_phone_keys WHERE community_id = $1", C)
    await db.execute("UPDATE helpers SET active = false WHERE helper_id = 'pkb-d'")
    # pkb-e's row written by the API meanwhile (say a re-import with a new phone): newer than
    # the changelog the command reads, so kept as it is.
    await db.execute("INSERT INTO helper_phone_keys VALUES ($1, 'pkb-e', 'pk-newer', now())", C)

    # Before the backfill: a sign-up with pkb-a's phone is not seen as a roster helper's,
    # and one with pkb-b's is approved: a second helper of one person.
    of_a = await sign_up(api, client, "小A", PHONES["pkb-a"])
    of_b = await sign_up(api, client, "小B", PHONES["pkb-b"])
    assert not await in_roster(client, of_a)
    approved = await client.post(f"{REGS}/{of_b}/approve", headers=STAFF)
    assert approved.status_code == 200, approved.text
    second = approved.json()["helper_id"]
    assert second != "pkb-b"
    await eventually(lambda: active(db, second), what="the sign-up on the roster")
    before = {second: ring.phone_key(PHONES["pkb-b"]), "pkb-e": "pk-newer"}
    assert await digests(db) == before  # the approval's, and pkb-e's

    # A dry run counts, writes nothing; another community has nothing of these.
    dry, _ = await run_cli(api, "phone-keys", "--dry-run", "--json", "--community", C)
    assert (dry["inserted"], dry["deactivated"], dry["unreadable"]) == (2, 1, 0), dry
    assert await digests(db) == before
    elsewhere, _ = await run_cli(api, "phone-keys", "--json", "--community", "nowhere")
    assert (elsewhere["helpers"], elsewhere["inserted"]) == (0, 0), elsewhere

    done, progress = await run_cli(api, "phone-keys", "--json", "--community", C)
    assert (done["inserted"], done["deactivated"], done["unreadable"]) == (2, 1, 0), done
    assert done["no_phone"] == 0 and done["dry_run"] is False
    # pkb-c (inactive in the changelog) is read but not active; pkb-e's row is present, and
    # `second`'s when the worker's table has it already (it may not yet).
    assert done["helpers"] - done["active"] == 1, done
    assert done["present"] == done["active"] - 3, done
    assert await digests(db) == {
        **before,
        "pkb-a": ring.phone_key(PHONES["pkb-a"]),
        "pkb-b": ring.phone_key(PHONES["pkb-b"]),
    }
    assert "reading the helper table" in progress

    # Twice changes nothing; the line an operator reads says so.
    again, _ = await run_cli(api, "phone-keys", "--json")
    assert again["inserted"] == 0 and again["deactivated"] == 1, again
    line = await cli_line(api, "phone-keys", "--community", C)
    assert line.startswith("phone-keys: helpers ") and ", inserted 0, " in line, line

    # The point of it: the sign-up with pkb-a's phone is now seen, and refused.
    assert await in_roster(client, of_a)
    refused = await client.post(f"{REGS}/{of_a}/approve", headers=STAFF)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"]["reason"] == "already_in_roster"
    assert "pkb-a" in refused.json()["detail"]["message"]


async def cli_line(api: LocalStack, *args: str) -> str:
    """The summary line as printed (no --json); never a phone in it or in the progress."""
    out, err = await run_cli_text(api, *args)
    shown = out + err
    assert not any(p in shown for p in PHONES.values()), shown
    return out.strip()


async def test_kafka_away_is_one_line_and_exit_69(api: LocalStack) -> None:
    """PostgreSQL usable, Kafka not: the reason in one line of its own, no traceback (aiokafka
    logs its own line about the connection besides)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dispatcher", "phone-keys"],
        env=api.env(DISPATCH_KAFKA_BOOTSTRAP="127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 69 and done.stdout == "", done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    said = [line for line in done.stderr.splitlines() if "not reachable" in line]
    assert len(said) == 1 and said[0].startswith("phone-keys: Kafka at 127.0.0.1:1 "), said
