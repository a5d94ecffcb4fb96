"""The requester ends their request by replying in the group, through the real API and worker
(real Kafka and PostgreSQL); callbacks as DingTalk builds them.

Before session 41 (the requester-side audit): the reply found the sender's request only
within 6 hours of asking (a normal request lives 24 h, a low one 72 h, and quiet hours hold
requests overnight), so "不用了" the next morning was silence and the request kept climbing;
one "不用了" ended only the newest of the sender's open requests (a re-post naming no
building is a second request), the first climbing on; "不用啦，谢谢", "不需要帮忙了，谢谢",
"好了，不用来了" were not read as closing replies; a reply that found nothing was silence,
and a request closed while the group loop skipped its (old) closing event was "cancelled"
again in the answer. Now a request is the sender's to end while the read model has it open,
every open one of theirs ends, and a sender who asked here and has none open is told so
(once in a while).
"""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from dispatcher.groupchat import texts
from dispatcher.record.edge import group_threads
from tests.integration.test_platform_dingtalk import DingTalk
from tests.support import platform_flow as flow
from tests.support.waiting import eventually

run, api = flow.staffed_fixtures(DingTalk)

CANCELLED_TEXTS = (texts.CANCELLED, texts.CANCELLED_STOOD_DOWN)
RICE = "{}号楼谁能帮忙扛一袋米上楼？"


def mid() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def raise_request(
    run: flow.Running,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    text: str,
    group: str,
    sender: str,
) -> str:
    """`sender` asks in `group`; the request's id once the read model has it."""
    r = await run.send(client, run.platform.message(text, mid(), group, sender))
    assert r.status_code == 200 and r.json()["is_request"], r.text
    rid = str(r.json()["request_id"])

    async def recorded() -> bool:
        return bool(await db.fetchval("SELECT 1 FROM requests WHERE request_id = $1", rid))

    await eventually(recorded, what=f"{rid} recorded")
    return rid


async def status_becomes(db: asyncpg.Connection, rid: str, status: str) -> None:
    async def reached() -> bool:
        got = await db.fetchval("SELECT status FROM requests WHERE request_id = $1", rid)
        return got == status

    await eventually(reached, what=f"{rid} {status}")


async def cancel_heard(run: flow.Running, group: str, n: int = 1) -> None:
    p = run.platform
    await p.receiver.wait_for(
        lambda: sum(t in CANCELLED_TEXTS for t in p.group_texts(group)) >= n, timeout=30
    )


async def test_a_request_older_than_six_hours_is_still_the_requesters_to_end(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    sender = "resident-rice"
    rid = await raise_request(run, client, db, RICE.format(51), "g-main", sender)
    # Asked seven hours ago (overnight, held for quiet hours): its thread's age.
    await db.execute(
        "UPDATE api_group_threads SET created_at = now() - interval '7 hours' "
        "WHERE request_id = $1",
        rid,
    )
    r = await run.send(client, run.platform.message("不用了，谢谢大家", mid(), "g-main", sender))
    assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": rid}, r.text
    await status_becomes(db, rid, "cancelled")
    await cancel_heard(run, "g-main")


async def test_one_reply_ends_every_open_request_of_the_sender(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A re-post naming no building is not merged: two requests of one need."""
    sender = "resident-ride"
    first = await raise_request(
        run, client, db, "亲爱的邻居们，我身体不舒服，谁能帮忙送我去医院？", "g-retry", sender
    )
    second = await raise_request(
        run, client, db, "还是没人回复，谁能送我去医院？", "g-retry", sender
    )
    assert first != second
    r = await run.send(client, run.platform.message("不用了，谢谢大家", mid(), "g-retry", sender))
    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, "cancelled": second, "also_cancelled": [first]}
    await status_becomes(db, first, "cancelled")
    await status_becomes(db, second, "cancelled")
    # Heard once, the newest's end (before session 42 once per request: 2 here);
    # tests/integration/test_requester_keeps_and_revokes_s42.py checks it is only once.
    await cancel_heard(run, "g-retry")


async def test_the_usual_wordings_of_taking_it_back_end_the_request(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    sender = "resident-words"
    for n, wording in enumerate(("不用啦，谢谢", "不需要帮忙了，谢谢", "好了，不用来了")):
        rid = await raise_request(run, client, db, RICE.format(52 + n), "g-edge", sender)
        r = await run.send(client, run.platform.message(wording, mid(), "g-edge", sender))
        assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": rid}, (
            wording,
            r.text,
        )
        await status_becomes(db, rid, "cancelled")
        await cancel_heard(run, "g-edge", n + 1)


async def test_a_reply_finding_no_open_request_says_so_once(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The request was closed while the group loop skipped its closing event (older than
    its MAX_EVENT_AGE after an outage): its thread stayed open. The read model says it is
    closed, so nothing is cancelled again, and the sender is told none of theirs is open."""
    p, sender = run.platform, "resident-closed"
    rid = await raise_request(run, client, db, RICE.format(61), "g-refuse", sender)
    r = await run.send(client, p.message("已经解决了，谢谢", mid(), "g-refuse", sender))
    assert r.json() == {"is_request": False, "resolved": rid}, r.text
    await status_becomes(db, rid, "resolved")
    await flow.wait_for_text(p, "g-refuse", "求助已解决，谢谢各位邻居！")

    async def thread_closed() -> bool:
        q = "SELECT closed FROM api_group_threads WHERE request_id = $1"
        return bool(await db.fetchval(q, rid))

    await eventually(thread_closed, what="the thread closed by the loop")
    await db.execute("UPDATE api_group_threads SET closed = false WHERE request_id = $1", rid)

    r = await run.send(client, p.message("不用了，谢谢", mid(), "g-refuse", sender))
    assert r.status_code == 200, r.text
    out = r.json()
    assert "cancelled" not in out and out["is_request"] is False, out
    assert out["reply_text"] == texts.NO_OPEN_REQUEST
    await flow.wait_for_text(p, "g-refuse", texts.NO_OPEN_REQUEST)

    # Said again: not told twice (the post is recorded before the answer).
    r = await run.send(client, p.message("不用了", mid(), "g-refuse", sender))
    assert r.status_code == 200 and r.json()["reply_text"] is None, r.text
    # Someone who never asked here, chatting: told nothing.
    r = await run.send(client, p.message("不用啦，谢谢", mid(), "g-refuse", "resident-chat"))
    assert r.status_code == 200 and r.json()["reply_text"] is None, r.text
    told = await db.fetch(
        "SELECT request_id FROM api_group_posts WHERE request_id LIKE $1",
        group_threads.NOT_FOUND + "%",
    )
    assert [t["request_id"] for t in told] == [group_threads.not_found_thread(sender)]
    events = await db.fetch("SELECT type FROM event_log WHERE request_id = $1", rid)
    assert "request_cancelled" not in [e["type"] for e in events]
