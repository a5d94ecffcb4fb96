"""The group loop's ordering and folding, with an in-memory stand-in for its two tables
and a recording sender (unit: no I/O; the integration tests run the real parts)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from dispatcher.groupchat import loop as loop_module
from dispatcher.groupchat.loop import GroupReplies
from dispatcher.record.edge.group_threads import Thread
from dispatcher.sealing import KeyRing
from schemas.events import Event, OfferSent, RequestCancelled
from schemas.vocab import Category, Party, Ring, Urgency
from tests.support.group_posts import FlakyRobot as Sender
from tests.support.group_posts import named_assignment, thread_row

THREAD = Thread("r1", "bot", "g1")


class Tables:
    """api_group_threads / api_group_posts, as the loop's queries use them (a lease here
    never lapses: the sweeper's SQL is tested on the real PostgreSQL)."""

    def __init__(self) -> None:
        self.posts: dict[str, dict[str, Any]] = {}  # post key → lease, sent

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        assert "api_group_threads" in query
        return [thread_row("r1")]

    async def fetchval(self, query: str, key: Any, *args: Any) -> bool | int | None:
        if query.startswith("WITH d AS (DELETE"):  # the purge: nothing old here
            return 0
        assert "api_group_posts" in query
        if query.startswith("INSERT"):  # add_pending: (key, 6 thread fields, text, lease, s)
            if key in self.posts:
                return None
            self.posts[key] = {"lease": args[7], "sent": False}
            return True
        post = self.posts[key]  # take: (key, lease, s)
        return True if not post["sent"] and post["lease"] == args[0] else None

    async def execute(self, query: str, *args: Any) -> None:
        if "SET sent_at" in query:
            self.posts[args[0]]["sent"] = True


def offer(i: int, command: str, step: int = 1) -> Event:
    return Event(
        event_id=f"{command}-{i}",
        community_id="c",
        request_id="r1",
        occurred_at=datetime.now(UTC),
        caused_by=command,
        body=OfferSent(
            offer_id=f"o{i}",
            helper_id=f"h{i}",
            ring=Ring.BUILDING,
            step=step,
            expires_at=datetime.now(UTC) + timedelta(minutes=5),
            category=Category.FALL,
            urgency=Urgency.URGENT,
            building_label="3号楼",
            helpers_needed=1,
            skills=(),
            remote=False,
        ),
    )


def cancelled(command: str) -> Event:
    return Event(
        event_id=f"{command}-x",
        community_id="c",
        request_id="r1",
        occurred_at=datetime.now(UTC),
        caused_by=command,
        body=RequestCancelled(by=Party.REQUESTER),
    )


def replies(keys: KeyRing | None = None) -> tuple[GroupReplies, Sender, Tables]:
    tables, sender = Tables(), Sender()

    async def pool() -> Tables:
        return tables

    return GroupReplies(sender, pool, keys=keys), sender, tables  # type: ignore[arg-type]


async def settle(g: GroupReplies) -> None:
    await asyncio.sleep(loop_module.WAVE_SETTLE_S + 0.05)
    await g.handle([])
    await asyncio.sleep(0.05)  # the group's queue drains


async def test_a_wave_split_across_fetches_is_one_message_after_the_reply() -> None:
    g, sender, _ = replies()
    g.expect(THREAD)
    await g.immediate(THREAD, "已收到", "m1")
    await g.handle([offer(1, "cmd-a")])
    await g.handle([offer(2, "cmd-a")])
    await settle(g)
    assert sender.sent == ["已收到", "已通知2位附近邻居，请稍候。"]


async def test_next_event_flushes_the_wave_first_and_replays_post_nothing() -> None:
    g, sender, _ = replies()
    batch = [offer(1, "cmd-a"), offer(2, "cmd-a"), offer(3, "cmd-b", 2), cancelled("cmd-c")]
    await g.handle(batch)
    await settle(g)
    await g.handle(batch)  # the same events again (a rebalance, a restart)
    await settle(g)
    assert sender.sent == [
        "已通知2位附近邻居，请稍候。",
        "已通知1位附近邻居，请稍候。",
        "求助已取消，已通知邻居不必前往。",
    ]


async def test_old_news_is_judged_by_the_injected_clock() -> None:
    tables, sender = Tables(), Sender()

    async def pool() -> Tables:
        return tables

    later = datetime.now(UTC) + loop_module.MAX_EVENT_AGE + timedelta(minutes=1)
    g = GroupReplies(sender, pool, clock=lambda: later)  # type: ignore[arg-type]
    await g.handle([cancelled("cmd-c")])  # occurred "now": over an hour before `later`
    await settle(g)
    assert sender.sent == []


async def test_an_opted_in_helper_is_named_from_their_sealed_name_box() -> None:
    """Since names are sealed (issue 12.7) the assignment carries the helper's name box
    only when they opted in; the loop opens it with the contact key, and a loop without
    the key (or a box that does not open) says "一位邻居"."""
    keys = KeyRing("contact-key-" + "c" * 32, [], "helper-id-key-" + "i" * 32)
    assigned = named_assignment(keys, "林阿姨", request_id="r1", event_id="as-1", caused_by="cmd-d")
    assert "林阿姨" not in assigned.model_dump_json()
    g, sender, _ = replies(keys)
    await g.handle([assigned])
    await settle(g)
    unkeyed, quiet, _ = replies()
    await unkeyed.handle([assigned])
    await settle(unkeyed)
    assert (sender.sent, quiet.sent) == (
        ["一位邻居（林阿姨）已接单，正在赶来。"],
        ["一位邻居已接单，正在赶来。"],
    )
