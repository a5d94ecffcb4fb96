"""A requester's replies in the group, through the real API and worker (real Kafka and
PostgreSQL; DingTalk callbacks), session 42:

1. "别全部取消，摔倒的还需要" (the answer the spared-emergency note invites) was a new fall
   request: a second one dispatched for the fall the sender was keeping. Now it ends nothing,
   opens nothing, and the sender hears the request goes on. But only while one of theirs is
   open there: from a sender whose request was closed, or who never asked, it is the fall it
   reads and is dispatched (e01ebce dropped it in silence: "kept", nothing open, chat).
2. "撤销求助" was a new request, never a cancel. Now it cancels as "取消求助" does.
3. "未找到您在本群进行中的求助" was said at most once in 12 h only by a look at the posts: two
   replies read at once were both told. Now the telling is claimed by one statement.
4. One "全部取消" of two requests posted "求助已取消" twice. Now the group hears it once (the
   newest's end; the others' threads in the group are dropped once their ends are queued).
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from dispatcher.groupchat import texts
from dispatcher.record.edge import group_threads
from tests.integration.test_platform_dingtalk import DingTalk
from tests.integration.test_requester_ends_s41 import mid, raise_request, status_becomes
from tests.support import platform_flow as flow
from tests.support.waiting import eventually

run, api = flow.staffed_fixtures(DingTalk)

FALL = "{}号楼我家老人摔倒了起不来，头在流血"
RICE = "{}号楼谁能帮忙扛一袋米上楼？"
CANCELLED_TEXTS = (texts.CANCELLED, texts.CANCELLED_STOOD_DOWN)


async def threads_of(run: flow.Running, db: asyncpg.Connection, group: str, who: str) -> int:
    q = "SELECT count(*) FROM api_group_threads WHERE group_id = $1 AND sender_id = $2"
    return int(await db.fetchval(q, run.platform.group_id(group), who))


async def test_keeping_the_fall_opens_nothing_and_ends_nothing(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    p, who = run.platform, "gridworker-keeps"
    fall = await raise_request(run, client, db, FALL.format(81), "g-main", who)
    before = await threads_of(run, db, "g-main", who)
    for n, wording in enumerate(("别全部取消，摔倒的还需要", "王奶奶摔倒那条还要，不用全部取消")):
        r = await run.send(client, p.message(wording, mid(), "g-main", who))
        assert r.status_code == 200, r.text
        assert r.json() == {"is_request": False, "still_open": [fall], "reply_text": texts.KEPT}
        await p.receiver.wait_for(
            lambda n=n: p.group_texts("g-main").count(texts.KEPT) >= n + 1, timeout=30
        )
    assert await threads_of(run, db, "g-main", who) == before  # no new request's thread
    assert await db.fetchval("SELECT closed_at IS NULL FROM requests WHERE request_id = $1", fall)
    events = await db.fetch("SELECT type FROM event_log WHERE request_id = $1", fall)
    assert "request_cancelled" not in [e["type"] for e in events]


async def dispatched(db: asyncpg.Connection, r: httpx.Response) -> str:
    """The answer is a request's, and the read model has it open."""
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["is_request"] is True and out["request_id"], out
    assert out.get("reply_text") != texts.KEPT, out
    rid = str(out["request_id"])

    async def open_() -> bool:
        q = "SELECT closed_at IS NULL FROM requests WHERE request_id = $1"
        return bool(await db.fetchval(q, rid))

    await eventually(open_, what=f"{rid} recorded open")
    return rid


async def test_keeping_words_from_one_who_never_asked_dispatch_the_fall(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Nothing of theirs open in the group: the fall named is one nobody is coming to."""
    p = run.platform
    for wording in ("别全部取消，摔倒的还需要", "别取消，我妈又摔倒了还没人来"):
        who = f"resident-new-{uuid.uuid4().hex[:8]}"
        await dispatched(db, await run.send(client, p.message(wording, mid(), "g-main", who)))


async def test_keeping_words_after_theirs_was_cancelled_dispatch_the_fall(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    p, who = run.platform, f"resident-again-{uuid.uuid4().hex[:8]}"
    first = await raise_request(run, client, db, FALL.format(87), "g-retry", who)
    r = await run.send(client, p.message("不用了，谢谢", mid(), "g-retry", who))
    assert r.json() == {"is_request": False, "cancelled": first}, r.text
    await status_becomes(db, first, "cancelled")
    again = await dispatched(
        db, await run.send(client, p.message("别全部取消，摔倒的还需要", mid(), "g-retry", who))
    )
    assert again != first


async def test_revoking_the_request_cancels_it(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    p, who = run.platform, "resident-revokes"
    rid = await raise_request(run, client, db, RICE.format(82), "g-retry", who)
    r = await run.send(client, p.message("撤销求助", mid(), "g-retry", who))
    assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": rid}, r.text
    await status_becomes(db, rid, "cancelled")
    await p.receiver.wait_for(
        lambda: any(t in CANCELLED_TEXTS for t in p.group_texts("g-retry")), timeout=30
    )


async def test_two_replies_at_once_finding_nothing_are_told_once(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    p, who = run.platform, "resident-twice"
    rid = await raise_request(run, client, db, RICE.format(83), "g-refuse", who)
    r = await run.send(client, p.message("已经解决了，谢谢", mid(), "g-refuse", who))
    assert r.json() == {"is_request": False, "resolved": rid}, r.text
    await status_becomes(db, rid, "resolved")

    answers = await asyncio.gather(
        *(
            run.send(client, p.message(t, mid(), "g-refuse", who))
            for t in ("不用了", "不用了，谢谢")
        )
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    told = [a.json()["reply_text"] for a in answers]
    assert sorted(told, key=str) == sorted([texts.NO_OPEN_REQUEST, None], key=str), told
    posts = await db.fetchval(
        "SELECT count(*) FROM api_group_posts WHERE request_id = $1",
        group_threads.not_found_thread(who),
    )
    assert posts == 1


async def test_the_telling_is_claimed_once_among_many_at_once(run: flow.Running) -> None:
    """`not_found_due` itself, eight at once on one sender (the race at its narrowest: before
    session 42 it only read, so all eight were due); past the 12 h it is due once more."""
    bot, group, who = "bot-claims", "g-claims", "resident-claims"
    pool = await asyncpg.create_pool(run.stack.pg_dsn, min_size=8, max_size=8)
    assert pool is not None
    try:
        await pool.execute(
            "INSERT INTO api_group_threads (request_id, bot_id, group_id, sender_id) "
            "VALUES ('r-claims', $1, $2, $3)",
            bot,
            group,
            who,
        )
        senders = [who, texts.co_reporter(who)]
        due = await asyncio.gather(
            *(group_threads.not_found_due(pool, bot, group, senders) for _ in range(8))
        )
        assert sorted(due) == [False] * 7 + [True]
        # Someone who never asked here is never due.
        assert not await group_threads.not_found_due(pool, bot, group, ["resident-never"])
        # Its claim opens no request of theirs.
        assert await group_threads.open_requests_of(pool, bot, group, who) == []
        await pool.execute(
            "UPDATE api_group_threads SET created_at = now() - interval '13 hours' "
            "WHERE request_id = $1",
            group_threads.not_found_thread(who),
        )
        due = await asyncio.gather(
            *(group_threads.not_found_due(pool, bot, group, senders) for _ in range(8))
        )
        assert sorted(due) == [False] * 7 + [True]
    finally:
        await pool.close()


async def test_cancelling_all_tells_the_group_once(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    p, who = run.platform, "gridworker-all"
    first = await raise_request(run, client, db, RICE.format(84), "g-edge", who)
    second = await raise_request(run, client, db, RICE.format(85), "g-edge", who)
    r = await run.send(client, p.message("全部取消", mid(), "g-edge", who))
    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, "cancelled": second, "also_cancelled": [first]}
    await status_becomes(db, first, "cancelled")
    await status_becomes(db, second, "cancelled")

    # A later request of the community: its events follow both cancellations in the one
    # partition, so once the loop posts its news (the ring widened: nobody here carries
    # rice) the loop has read both.
    later = await raise_request(run, client, db, RICE.format(86), "g-edge", "resident-later")

    async def later_news_posted() -> bool:
        q = "SELECT 1 FROM api_group_posts WHERE request_id = $1 AND post_key NOT LIKE 'first:%'"
        return bool(await db.fetchval(q, later))

    await eventually(later_news_posted, what="the later request's news posted")
    rows = await db.fetch(
        "SELECT e.request_id, count(g.post_key) AS n FROM event_log e "
        "LEFT JOIN api_group_posts g ON g.post_key LIKE e.event_id || ':%' "
        "WHERE e.request_id = ANY($1::text[]) AND e.type = 'request_cancelled' "
        "GROUP BY e.request_id",
        [first, second],
    )
    assert {str(row["request_id"]): int(row["n"]) for row in rows} == {second: 1, first: 0}
    await p.receiver.wait_for(
        lambda: any(t in CANCELLED_TEXTS for t in p.group_texts("g-edge")), timeout=30
    )
    said = p.group_texts("g-edge")
    assert sum(t in CANCELLED_TEXTS for t in said) == 1, said


async def test_a_new_fever_beside_keep_words_is_dispatched(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """R2: "那条别取消，孩子发高烧了" with an everyday request open (carrying rice) was taken
    for keeping it (the route kept whenever the sender had ANY request open): the fever,
    a new urgent need, was dispatched to nobody. Kept only by an open one of its category."""
    p, who = run.platform, "resident-r2-fever"
    rice = await raise_request(run, client, db, RICE.format(88), "g-main", who)
    r = await run.send(client, p.message("那条别取消，孩子发高烧了", mid(), "g-main", who))
    fever = await dispatched(db, r)
    assert fever != rice
    assert await db.fetchval("SELECT category FROM requests WHERE request_id = $1", fever) == (
        "medical"
    )
    assert await db.fetchval("SELECT closed_at IS NULL FROM requests WHERE request_id = $1", rice)


async def test_no_thanks_unpunctuated_ends_the_sole_critical_request(
    run: flow.Running, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """R2: texts.keeps_some read the 不 of "不用了" as negating the later 取消 (same clause,
    no comma), so the sender's only open request, critical, was spared."""
    p, who = run.platform, "resident-r2-sole"
    fall = await raise_request(run, client, db, FALL.format(89), "g-main", who)
    r = await run.send(client, p.message("不用了取消吧", mid(), "g-main", who))
    assert r.status_code == 200, r.text
    assert r.json().get("cancelled") == fall, r.json()
    await status_becomes(db, fall, "cancelled")
