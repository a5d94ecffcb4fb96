"""A group message is never lost (rev30 groupchat finding 1), on the real PostgreSQL: a
post is recorded pending before `handle()` returns (the consumer commits after it); a send
that failed or that an API stop cut short is sent by the sweeper; with two loops (two API
instances) replaying the same events and sweeping at once, each post goes out once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from dispatcher.groupchat import loop as loop_module
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from schemas.events import Event, ReferredToEmergency, RequestResolved
from schemas.vocab import Party, ReferralTarget
from tests.support import group_posts
from tests.support.group_posts import FlakyRobot, drained, loop_on

THREAD = Thread("r-pending", "bot", "g1")
REFERRAL_TEXT = "暂时没有邻居能及时赶到。请立即拨打120急救电话！"


def referral(request_id: str = THREAD.request_id) -> Event:
    return Event(
        event_id=f"ev-ref-{request_id}",
        community_id="c",
        request_id=request_id,
        occurred_at=datetime.now(UTC),
        caused_by="cmd-timer",
        body=ReferredToEmergency(to=ReferralTarget.AMBULANCE, step=4),
    )


class Flaky(FlakyRobot):
    """Fails the first `failures` sends (a robot down through all its retries); a send
    takes a real round trip: two senders would overlap."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__(failures, round_trip_s=0.05)


class Stuck:
    async def send(self, thread: Thread, text: str, key: str) -> bool:
        await asyncio.sleep(3600)
        return True


pool = group_posts.pool  # api_group_posts and api_group_threads emptied first


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_module, "LEASE_S", 1.0)
    monkeypatch.setattr(loop_module, "RETRY_BASE_S", 0.5)


async def unsent(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT post_key FROM api_group_posts WHERE sent_at IS NULL")
    return sorted(r["post_key"] for r in rows)


async def backoff_passes(pool: asyncpg.Pool, key: str) -> None:
    """The failed send's backoff ends now (it was set in the future by `retry_later`)."""
    moved = await pool.execute(
        "UPDATE api_group_posts SET lease_until = now() "
        "WHERE post_key = $1 AND sent_at IS NULL AND lease_until > now()",
        key,
    )
    assert moved == "UPDATE 1", moved


async def test_a_failed_send_is_sent_by_the_sweeper(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backoff no stall of the test can outlast (a minute); its end is then brought forward
    # in SQL instead of waited for.
    monkeypatch.setattr(loop_module, "RETRY_BASE_S", 60.0)
    await threads.record(pool, THREAD, "u1")
    robot = Flaky(failures=1)
    g = loop_on(pool, robot)
    await g.handle([referral()])
    await drained(g)
    assert robot.sent == [] and await unsent(pool) == ["ev-ref-r-pending:bot:g1"]
    assert await g.sweep() == 0  # its backoff has not passed yet
    await backoff_passes(pool, "ev-ref-r-pending:bot:g1")
    assert await g.sweep() == 1
    await drained(g)
    assert robot.sent == [REFERRAL_TEXT] and await unsent(pool) == []
    await g.handle([referral()])  # a replay of the event
    assert await g.sweep() == 0
    await drained(g)
    assert robot.sent == [REFERRAL_TEXT]


async def test_a_send_cut_short_by_an_api_stop_is_sent_after_restart(pool: asyncpg.Pool) -> None:
    await threads.record(pool, THREAD, "u1")
    first = loop_on(pool, Stuck())
    await first.handle([referral()])  # returns: the consumer commits the event now
    await asyncio.sleep(0.05)
    await first.close()  # the API stops mid-send
    restarted = Flaky()
    second = loop_on(pool, restarted)
    await second.handle([referral()])
    await drained(second)
    assert restarted.sent == []  # the replay finds it recorded, and leased a while
    await asyncio.sleep(1.1)  # the stopped sender's lease lapses
    assert await second.sweep() == 1
    await drained(second)
    assert restarted.sent == [REFERRAL_TEXT] and await unsent(pool) == []


async def test_two_loops_send_each_post_once(pool: asyncpg.Pool) -> None:
    requests = [f"r-two-{i}" for i in range(6)]
    for request_id in requests:
        await threads.record(pool, Thread(request_id, "bot", f"g-{request_id}"), "u1")
    events = [referral(r) for r in requests]
    events += [
        Event(
            event_id=f"ev-done-{r}",
            community_id="c",
            request_id=r,
            occurred_at=datetime.now(UTC),
            caused_by="cmd-done",
            body=RequestResolved(by=Party.REQUESTER, helper_ids=(), duration_s=60.0),
        )
        for r in requests
    ]
    one, two = Flaky(failures=3), Flaky(failures=3)
    a, b = loop_on(pool, one), loop_on(pool, two)
    # A rebalance: both instances read the same events at once, and both sweep.
    await asyncio.gather(a.handle(events), b.handle(events))
    await drained(a, b)
    for _ in range(8):
        await asyncio.sleep(0.6)
        await asyncio.gather(a.sweep(), b.sweep())
        await drained(a, b)
    assert await unsent(pool) == []
    sent = one.sent + two.sent
    assert len(sent) == 2 * len(requests)
    assert sorted(sent).count(REFERRAL_TEXT) == len(requests)
