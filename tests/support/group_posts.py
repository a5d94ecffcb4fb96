"""The group loop's posts on the real PostgreSQL (api_group_posts, api_group_threads): the
`pool` fixture on the module's namespace with both tables emptied, a robot that fails its
first sends (or none: a recording sender), the loop on that pool, the wait until its queues
are empty; and for in-memory stand-ins a thread's row and an assignment naming its helper
to the group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from dispatcher.groupchat.loop import GroupReplies
from dispatcher.record.edge.group_threads import Thread
from dispatcher.sealing import KeyRing, seal_profile
from dispatcher.testing.stack import LocalStack
from schemas.config import Hotline
from schemas.events import Event, HelperAssigned
from schemas.helpers import HelperProfile
from schemas.places import PlacePath


@pytest.fixture
async def pool(stack: LocalStack) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the module's namespace, its group posts and threads deleted first (a module
    takes it as its own fixture: `pool = group_posts.pool`)."""
    p = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=4)
    assert p is not None
    try:
        await p.execute("TRUNCATE api_group_posts, api_group_threads")  # the module's stack
        yield p
    finally:
        await p.close()


def thread_row(request_id: str) -> dict[str, object]:
    """api_group_threads' row for `request_id`'s thread in group g1 of bot `bot` (no DingTalk
    session webhook, no message to reply to), as an in-memory stand-in returns it."""
    return {
        "request_id": request_id,
        "bot_id": "bot",
        "group_id": "g1",
        "session_webhook": None,
        "session_expires": None,
        "reply_to": None,
    }


class FlakyRobot:
    """Fails the first `failures` sends (a robot down through all its retries); a send that
    goes through takes `round_trip_s` (where two senders should overlap) and is kept in
    `sent`."""

    def __init__(self, failures: int = 0, round_trip_s: float = 0.0) -> None:
        self.failures = failures
        self.round_trip_s = round_trip_s
        self.sent: list[str] = []

    async def send(self, thread: Thread, text: str, key: str) -> bool:
        if self.failures:
            self.failures -= 1
            return False
        if self.round_trip_s:
            await asyncio.sleep(self.round_trip_s)
        self.sent.append(text)
        return True


def loop_on(pool: asyncpg.Pool, sender: object, keys: KeyRing | None = None) -> GroupReplies:
    """The group loop sending through `sender`, its posts in `pool`."""

    async def get() -> asyncpg.Pool:
        return pool

    return GroupReplies(sender, get, keys=keys)  # type: ignore[arg-type]


async def drained(*loops: GroupReplies) -> None:
    """Until the loops' group queues are empty (a generous guard against a hang: a stall of
    PostgreSQL on a loaded machine is not one)."""
    for _ in range(3000):
        if not any(g._tasks for g in loops):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("group queues did not drain")


async def heard(
    pool: Any,
    hotlines: Sequence[Hotline],
    clock: Callable[[], datetime],
    *batches: list[Event],
) -> list[str]:
    """What the group hears of `batches` (handled one after another), the loop on an
    in-memory stand-in `pool` with a recording sender, no purge, waves posted at the end."""
    sender = FlakyRobot()

    async def get() -> Any:
        return pool

    g = GroupReplies(sender, get, hotlines=lambda c: list(hotlines), clock=clock)  # type: ignore[arg-type]
    g._last_purge = time.monotonic()  # no purge in a stand-in
    try:
        for batch in batches:
            await g.handle(batch)
        await g.flush_all()  # an offer wave in the batches is posted now
        await drained(g)
    finally:
        await g.close()
    return sender.sent


def named_assignment(
    keys: KeyRing, name: str, *, request_id: str, event_id: str, caused_by: str
) -> Event:
    """Helper h1 (community c) assigned, who chose to be named to the asking group: the
    event carries their name only sealed, in the box the group loop opens with `keys`."""
    profile = seal_profile(
        keys,
        HelperProfile(
            helper_id="h1", name=name, place=PlacePath(community_id="c"), name_in_group=True
        ),
    )
    return Event(
        event_id=event_id,
        community_id="c",
        request_id=request_id,
        occurred_at=datetime.now(UTC),
        caused_by=caused_by,
        body=HelperAssigned(
            offer_id="o1",
            helper_id="h1",
            slot=0,
            skills=(),
            remote=False,
            place=PlacePath(community_id="c"),
            sealed_group_name=profile.sealed_name,
        ),
    )
