"""A requester's closing reply in the group, through the real API and worker (real Kafka and
PostgreSQL; DingTalk callbacks), session 41 review of 5f6bd9a:

1. One "不用了，谢谢" ended every open request the sender raised in the group, however old
   and however grave. A 网格员 relaying a fall and then groceries in one group, saying it
   about the groceries, cancelled the fall and stood its helpers down. Now, with several
   open, a critical one is kept open whichever it is (the newest too, since the review of
   791e99b) and the group is told so; "全部取消" as the whole reply ends it.
2. A request the read model had not recorded counted as the sender's only for an hour after
   its thread: with the worker more than an hour behind, an acknowledged request got
   "未找到您在本群进行中的求助". Now it counts while the API holds it (`api_intake`), for
   up to 96 h.
"""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from dispatcher.groupchat import texts
from tests.integration.test_platform_dingtalk import DingTalk
from tests.integration.test_requester_ends_s41 import mid, raise_request, status_becomes
from tests.support import platform_flow as flow

run, api = flow.staffed_fixtures(DingTalk)

FALL = "{}号楼我家老人摔倒了起不来，头在流血"
GROCERIES = "{}号楼谁能帮我去超市买点菜？"


async def asked(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection, text: str, who: str
) -> str:
    return await raise_request(run, client, db, text, "g-main", who)


async def test_no_thanks_for_the_groceries_leaves_the_older_fall_open(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    p, who = run.platform, "gridworker-spare"
    fall = await asked(run, client, db, FALL.format(71), who)
    groceries = await asked(run, client, db, GROCERIES.format(72), who)

    r = await run.send(client, p.message("不用了，谢谢", mid(), "g-main", who))
    assert r.status_code == 200, r.text
    told = texts.spared(1)
    assert r.json() == {
        "is_request": False,
        "cancelled": groceries,
        "still_open": [fall],
        "reply_text": told,
    }
    await status_becomes(db, groceries, "cancelled")
    await flow.wait_for_text(p, "g-main", told)
    q = "SELECT closed_at IS NULL FROM requests WHERE request_id = $1"
    assert await db.fetchval(q, fall)
    events = await db.fetch("SELECT type FROM event_log WHERE request_id = $1", fall)
    assert "request_cancelled" not in [e["type"] for e in events]

    r = await run.send(client, p.message("全部取消", mid(), "g-main", who))
    assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": fall}, r.text
    await status_becomes(db, fall, "cancelled")


async def test_an_acknowledged_request_unrecorded_for_two_hours_is_still_the_senders(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The worker two hours behind: the thread and the API's intake row, no read model row."""
    p, who = run.platform, "resident-behind"
    rid = f"req-behind-{uuid.uuid4().hex[:12]}"
    await db.execute(
        "INSERT INTO api_intake (request_id, bot_id, community_id, opened_at) "
        "VALUES ($1, $2, $3, now() - interval '2 hours')",
        rid,
        DingTalk.bot_id,
        run.community,
    )
    await db.execute(
        "INSERT INTO api_group_threads (request_id, bot_id, group_id, sender_id, created_at) "
        "VALUES ($1, $2, $3, $4, now() - interval '2 hours')",
        rid,
        DingTalk.bot_id,
        p.group_id("g-main"),
        who,
    )
    r = await run.send(client, p.message("不用了，谢谢", mid(), "g-main", who))
    assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": rid}, r.text

    # Without an intake row the API never took it in: not the sender's to end.
    await db.execute("DELETE FROM api_intake WHERE request_id = $1", rid)
    r = await run.send(client, p.message("不用了", mid(), "g-main", who))
    assert r.status_code == 200 and "cancelled" not in r.json(), r.text
