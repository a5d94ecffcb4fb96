"""Request ids derived from a key or message id never answer 202 for nothing, and a merged
report's own id withdraws that report only (session 41 audit), on the real API, worker,
Kafka and PostgreSQL.

A request's id is derived from its caller and its Idempotency-Key (or message id). The key
is forgotten after a day (`bot_calls.purge`), the intake row never: a key used again after
its day was claimed afresh, the intake insert met the earlier row and did nothing, the
command was sent and the core dropped it (a known request id): 202, and no request. Every
staff account also used the one owner "staff", so one account's key was another's: refused
(422, with no call-now reply for a life-threatening request) within the day, dropped after.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.record.edge import bot_calls, intake
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support import intake_edge as edge
from tests.support.bot import BotClient
from tests.support.staff import bearer, write_staff_file
from tests.support.waiting import eventually

A, B, BOTS = "s41-taken-a", "s41-taken-b", "s41-taken-bots"
LI = secrets.token_urlsafe(32)  # staff of A
WU = secrets.token_urlsafe(32)  # staff of B


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.bot_communities.add(BOTS)
    stack.start_worker()
    write_staff_file(stack, {"li": (LI, [A]), "wu": (WU, [B])})
    await stack.start_api()
    yield stack


def key() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


def errand(community: str) -> dict[str, Any]:
    body = builders.request(
        community, category="errand", urgency="normal", skills=[], text="帮忙搬下东西"
    )
    body.pop("source")
    return body


def fall(community: str) -> dict[str, Any]:
    body = builders.request(
        community,
        category="fall",
        urgency="critical",
        skills=[],
        text="老人摔倒了起不来",
        life_threatening=True,
    )
    body.pop("source")
    return body


async def staff_post(
    client: httpx.AsyncClient, token: str, body: dict[str, Any], idem: str
) -> httpx.Response:
    return await client.post(
        "/v1/requests", json=body, headers={**bearer(token), "Idempotency-Key": idem}
    )


async def recorded(db: asyncpg.Connection, rid: str, timeout: float = 30) -> asyncpg.Record:
    async def row() -> asyncpg.Record | None:
        found: asyncpg.Record | None = await db.fetchrow(
            "SELECT community_id, category, status FROM requests WHERE request_id = $1", rid
        )
        return found

    return await eventually(row, timeout=timeout, what=f"request {rid} recorded")


async def a_day_passes(db: asyncpg.Connection, rid: str, k: str) -> None:
    """The key's day and its request's: both written in one transaction, aged together, and
    the keys purged as the API does."""
    await db.execute(
        "UPDATE api_idempotency SET created_at = now() - interval '2 days' WHERE key = $1", k
    )
    await db.execute(
        "UPDATE api_intake SET opened_at = now() - interval '2 days' WHERE request_id = $1", rid
    )
    await bot_calls.purge(db, 600)


async def taken_in(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: str, body: dict[str, Any], k: str
) -> str:
    """A staff request accepted (202) and recorded by the worker: its id."""
    answer = await staff_post(client, token, body, k)
    assert answer.status_code == 202, answer.text
    rid: str = answer.json()["request_id"]
    await recorded(db, rid)
    return rid


def advised(answer: httpx.Response) -> bool:
    detail = answer.json()["detail"]
    return bool(detail.get("advise_emergency_call")) and "120" in str(detail.get("reply_text"))


async def test_a_key_used_again_after_its_day_is_refused_not_dropped(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    k = key()
    old = await taken_in(client, db, LI, errand(A), k)
    await a_day_passes(db, old, k)
    assert await db.fetchval("SELECT count(*) FROM api_idempotency WHERE key = $1", k) == 0

    intake_rows = "SELECT count(*) FROM api_intake WHERE community_id = $1"
    before = await db.fetchval(intake_rows, A)
    # The next day the same account's key on a fall: not a 202 for the old errand's id.
    again = await staff_post(client, LI, fall(A), k)
    assert again.status_code == 409, again.text
    assert again.json()["detail"]["reason"] == "request_id_taken"
    assert "earlier request" in again.json()["detail"]["message"]
    assert advised(again), again.text  # a life-threatening request is told to call now
    # Nothing written: the key is not held, a retry is refused alike, and nothing was sent.
    assert await db.fetchval("SELECT count(*) FROM api_idempotency WHERE key = $1", k) == 0
    retry = await staff_post(client, LI, fall(A), k)
    assert retry.status_code == 409, retry.text
    assert await db.fetchval(intake_rows, A) == before

    # An ordinary request: the same refusal, no call-now reply (none is due).
    plain = await staff_post(client, LI, errand(A), k)
    assert plain.status_code == 409, plain.text
    assert "reply_text" not in plain.json()["detail"]

    # With a new key the fall is dispatched.
    fresh = await staff_post(client, LI, fall(A), key())
    assert fresh.status_code == 202, fresh.text
    assert (await recorded(db, fresh.json()["request_id"]))["category"] == "fall"
    assert (await recorded(db, old))["category"] == "errand"


async def test_another_staff_account_with_the_same_key_gets_its_own_request(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    k = key()
    rid_a = await taken_in(client, db, LI, errand(A), k)

    # Within the day: B's staff's fall with A's key is B's own request (was 422).
    b = await staff_post(client, WU, fall(B), k)
    assert b.status_code == 202, b.text
    rid_b = b.json()["request_id"]
    assert rid_b != rid_a
    row = await recorded(db, rid_b)
    assert (row["community_id"], row["category"]) == (B, "fall")

    # After A's key's day: still B's own request, never A's id (was 202 and no request).
    k2 = key()
    rid_a2 = await taken_in(client, db, LI, errand(A), k2)
    await a_day_passes(db, rid_a2, k2)
    b2 = await staff_post(client, WU, fall(B), k2)
    assert b2.status_code == 202, b2.text
    assert b2.json()["request_id"] not in (rid_a2, rid_a)
    row = await recorded(db, b2.json()["request_id"])
    assert (row["community_id"], row["category"]) == (B, "fall")
    status = await client.get(f"/v1/requests/{b2.json()['request_id']}", headers=bearer(WU))
    assert status.status_code == 200 and status.json()["status"] == "open", status.text


async def test_a_key_reused_within_its_day_refuses_a_fall_with_the_call_now_advice(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    k = key()
    first = await staff_post(client, LI, errand(A), k)
    assert first.status_code == 202, first.text
    reused = await staff_post(client, LI, fall(A), k)
    assert reused.status_code == 422, reused.text
    assert reused.json()["detail"]["reason"] == "idempotency_key_reused"
    assert advised(reused), reused.text


def same_flat_report(name: str) -> dict[str, Any]:
    place = builders.place(BOTS, building="b3")  # no household: a chat bridge knows none
    body = builders.request(
        BOTS,
        category="fall",
        urgency="critical",
        skills=[],
        place=place,
        text="3号楼502室有老人摔倒了起不来",
        contact={"name": name, "phone": "13900000001", "address": "3号楼502室"},
    )
    body["source"]["bot_id"] = None
    return body


async def test_a_merged_reports_own_id_withdraws_it_and_leaves_the_request_open(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)
    first = await bot.post("/v1/requests", same_flat_report("张先生"))
    assert first.status_code == 202, first.text
    rid = first.json()["request_id"]
    assert first.json()["report_id"] == rid
    second = await bot.post("/v1/requests", same_flat_report("李女士"))
    assert second.status_code == 202, second.text
    assert second.json()["merged"] is True and second.json()["request_id"] == rid
    own = second.json()["report_id"]
    assert own != rid
    await recorded(db, rid)

    # 李女士's family says 不用了: the bridge cancels the id of her report.
    path = f"/v1/requests/{own}/cancel"
    w = await bot.post(path, {"request_id": own, "reason": "不用了"})
    assert w.status_code == 202, w.text
    assert w.json()["withdrawn"] is True and w.json()["command_id"] is None
    resolved = await bot.post(f"/v1/requests/{own}/resolve", {"request_id": own})
    assert resolved.status_code == 202 and resolved.json()["withdrawn"] is True, resolved.text
    await asyncio.sleep(2)  # a cancel sent would be recorded well within this
    assert (await recorded(db, rid))["status"] == "open"

    # The first reporter's own id still cancels their request.
    c = await bot.post(f"/v1/requests/{rid}/cancel", {"request_id": rid, "reason": "好了"})
    assert c.status_code == 202 and c.json()["withdrawn"] is False, c.text

    async def cancelled() -> bool:
        return (await recorded(db, rid))["status"] == "cancelled"

    await eventually(cancelled, timeout=30, what="the first reporter's cancel recorded")


async def test_the_statement_tells_a_retry_from_an_earlier_requests_id(api: LocalStack) -> None:
    """At the edge (`intake.submit`, one statement): the same caller's retry within the
    key's day (its key given back after a 5xx) goes on as before; another caller's id, or
    the same caller's after the day, is `taken`, with nothing written and the key given
    back."""
    conn = await asyncpg.connect(api.pg_dsn)
    rid = f"r-{uuid.uuid4().hex[:10]}"

    async def submit(bot_id: str, k: str) -> intake.Submitted:
        return await edge.submit(conn, bot_id=bot_id, key=k, request_id=rid, community_id=A)

    async def keys(bot_id: str) -> int:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM api_idempotency WHERE bot_id = $1", bot_id
        )
        return found

    try:
        first = await submit("edge-a", "k1")
        assert first.claimed and not first.taken
        await bot_calls.give_up_key(conn, "edge-a", "k1")  # a 5xx: the key given back
        retry = await submit("edge-a", "k1")
        assert retry.claimed and not retry.taken
        other = await submit("edge-b", "k1")
        assert other.taken and await keys("edge-b") == 0
        await conn.execute(
            "UPDATE api_intake SET opened_at = now() - interval '2 days' WHERE request_id = $1",
            rid,
        )
        await conn.execute("DELETE FROM api_idempotency WHERE bot_id = 'edge-a'")
        late = await submit("edge-a", "k1")
        assert late.taken and await keys("edge-a") == 0
        rows = await conn.fetch("SELECT bot_id FROM api_intake WHERE request_id = $1", rid)
        assert [r["bot_id"] for r in rows] == ["edge-a"]
    finally:
        await conn.close()
