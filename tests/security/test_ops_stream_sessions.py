"""The dashboard's live stream (/ops/v1/stream) after it opened (review rev30, ops findings 1
and 2). The attacks: keep a stream open and go on receiving events after the account was
revoked, its token replaced, its communities changed or its 12 h session ran out; open
streams without end for one account; let another community's events fill a scoped stream.

The API runs in this process (uvicorn in a thread) so that the test can move its clock, on the
namespace's real PostgreSQL (the staff audit) and Kafka (events reach the stream through the
feed's own consumer of the events topic).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer

from dispatcher.api import ops_pages
from dispatcher.api.app import create_app
from dispatcher.api.auth import SESSION_SECONDS
from dispatcher.api.deps import ApiDeps
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.api.staff_accounts import token_hash
from dispatcher.clock import utcnow
from dispatcher.groupchat.bots import BotRegistry
from dispatcher.ops.live_feed import LiveFeed
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack, free_port
from schemas.event_batch import encode_batches
from schemas.events import CommandRejected, make_event

LI = secrets.token_urlsafe(32)  # li: community A's staff
OPS = secrets.token_urlsafe(32)  # ops: district-wide
A, B = "stream-a", "stream-b"
LATER = 60.0  # seconds on the API's clock: past the stream's re-check interval
TIMEOUT = httpx.Timeout(10, read=60)  # a stream is quiet for up to a heartbeat (15 s)


class MovableClock:
    """The API's clock (ApiDeps.clock), which the test moves forward."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.shift

    def advance(self, seconds: float) -> None:
        self.shift += timedelta(seconds=seconds)


@dataclass
class StaffFile:
    """The API's staff file: li (community A) and ops (district-wide)."""

    path: Path
    li: dict[str, Any] = field(
        default_factory=lambda: {"name": "li", "token_sha256": token_hash(LI), "communities": [A]}
    )

    def change_li(self, **changes: Any) -> None:
        """Edit li's entry (the API re-reads the file when it changes)."""
        self.li.update(changes)
        ops = {"name": "ops", "token_sha256": token_hash(OPS), "communities": ["*"]}
        self.path.write_text(json.dumps({"staff": [self.li, ops]}))


@dataclass
class Served:
    url: str
    feed: LiveFeed
    clock: MovableClock
    staff: StaffFile

    def change_li(self, **changes: Any) -> None:
        self.staff.change_li(**changes)


@pytest.fixture
def served(stack: LocalStack) -> Iterator[Served]:
    staff = StaffFile(stack.root / f"staff-{uuid.uuid4().hex[:8]}.json")
    staff.change_li()
    clock = MovableClock()
    port = free_port()
    cfg = stack.settings(staff_file=str(staff.path), staff_token="")
    deps = ApiDeps(cfg, KafkaCommandSink(cfg), bots=BotRegistry.from_list([]), clock=clock)
    app = create_app(cfg, deps)
    server = uvicorn.Server(
        uvicorn.Config(
            app, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=5
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "in-process API did not start"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", app.state.ops_feed, clock, staff)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


class Sse:
    """One /ops/v1/stream request, its lines read in the background."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read()) if self.status == 200 else None

    @property
    def status(self) -> int:
        return self.response.status_code

    async def _read(self) -> None:
        async for line in self.response.aiter_lines():
            self.lines.append(line)

    def event_ids(self) -> list[str]:
        return [line.removeprefix("id: ") for line in self.lines if line.startswith("id: ")]

    async def see(self, line: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.lines:
            assert time.monotonic() < deadline, f"{line!r} not in {self.lines}"
            await asyncio.sleep(0.05)

    async def live(self) -> None:
        """Wait until the feed's consumer sits at the end of the events topic. The stream
        says so after waiting up to 10 s for it, else at its next heartbeat (15 s later)."""
        await self.see('data: {"live":true}', timeout=60)

    async def ended(self, timeout: float = 30) -> str:
        """The reason the server gave when it ended the stream (fails if it did not)."""
        assert self._reader is not None
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        last = len(self.lines) - 1 - self.lines[::-1].index("event: ended")
        assert not any(self.lines[last + 2 :]), self.lines[last:]  # the stream's last frame
        reason: str = json.loads(self.lines[last + 1].removeprefix("data: "))["reason"]
        return reason

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.response.aclose()


@asynccontextmanager
async def streams(client: httpx.AsyncClient) -> AsyncIterator[Any]:
    """`open(headers)` → an Sse, each closed (the connection dropped) on the way out."""
    async with AsyncExitStack() as stack:

        async def open_stream(headers: dict[str, str] | None = None) -> Sse:
            request = client.stream("GET", "/ops/v1/stream", headers=headers)
            sse = Sse(await stack.enter_async_context(request))
            stack.push_async_callback(sse.close)
            return sse

        yield open_stream


@asynccontextmanager
async def signed_in(served: Served, token: str = LI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in to the dashboard (its session cookie in the jar)."""
    async with httpx.AsyncClient(base_url=served.url, timeout=TIMEOUT) as client:
        login = await client.post("/dashboard/login", data={"token": token})
        assert login.status_code == 303, login.text
        yield client


async def publish(stack: LocalStack, community: str) -> str:
    """A real event on the namespace's events topic; returns its id."""
    event = make_event(
        CommandRejected(command_type="accept_offer", reason="unknown_request"),
        command_id=f"c-{uuid.uuid4().hex}",
        index=0,
        community_id=community,
        request_id=None,
        occurred_at=utcnow(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in encode_batches([event]):
            await producer.send_and_wait(stack.topic("events"), value, key=key)
    finally:
        await producer.stop()
    return event.event_id


# ------------------------------------------------------------------ finding 1: outliving access


async def test_a_revoked_account_s_open_stream_ends(served: Served, stack: LocalStack) -> None:
    async with signed_in(served) as c, streams(c) as open_stream:
        s = await open_stream()
        await s.live()
        first = await publish(stack, A)
        await s.see(f"id: {first}")
        served.change_li(revoked=True)
        served.clock.advance(LATER)  # the next frame is checked first
        after = await publish(stack, A)
        assert await s.ended() == "signed_out"
        assert after not in s.event_ids()
        again = await open_stream()  # the browser reconnects: refused
        assert again.status == 401


async def test_a_replaced_token_s_open_stream_ends(served: Served, stack: LocalStack) -> None:
    old = {"Authorization": f"Bearer {LI}"}
    async with httpx.AsyncClient(base_url=served.url, timeout=TIMEOUT) as c, streams(c) as open_:
        s = await open_(old)
        await s.live()
        served.change_li(token_sha256=token_hash(secrets.token_urlsafe(32)))
        served.clock.advance(LATER)
        after = await publish(stack, A)
        assert await s.ended() == "signed_out"
        assert after not in s.event_ids()
        assert (await open_(old)).status == 401


async def test_a_changed_scope_ends_the_stream_and_the_next_one_has_the_new_scope(
    served: Served, stack: LocalStack
) -> None:
    async with signed_in(served) as c, streams(c) as open_stream:
        s = await open_stream()
        await s.live()
        served.change_li(communities=[B])  # li moves to community B
        served.clock.advance(LATER)
        stale = await publish(stack, A)
        assert await s.ended() == "account_changed"
        assert stale not in s.event_ids()
        now = await open_stream()  # the same session, now scoped to B
        await now.live()
        theirs, mine = await publish(stack, A), await publish(stack, B)
        await now.see(f"id: {mine}")
        assert theirs not in now.event_ids()


async def test_a_stream_ends_when_its_session_expires(served: Served, stack: LocalStack) -> None:
    async with signed_in(served) as c, streams(c) as open_stream:
        s = await open_stream()
        await s.live()
        served.clock.advance(SESSION_SECONDS + 1)
        late = await publish(stack, A)
        assert await s.ended() == "session_expired"
        assert late not in s.event_ids()
        assert (await open_stream()).status == 401


async def test_an_idle_stream_is_checked_at_every_heartbeat(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No event and no clock move: the heartbeat alone finds the revocation.
    monkeypatch.setattr(ops_pages, "HEARTBEAT_S", 0.3)
    async with signed_in(served) as c, streams(c) as open_stream:
        s = await open_stream()
        await s.live()
        served.change_li(revoked=True)
        assert await s.ended(timeout=10) == "signed_out"


# ------------------------------------------------------------------ finding 2: unbounded streams


async def test_one_account_holds_at_most_three_streams(served: Served) -> None:
    async with (
        signed_in(served) as li,
        signed_in(served, OPS) as ops,
        streams(li) as open_li,
        streams(ops) as open_ops,
    ):
        held = [await open_li() for _ in range(3)]
        assert [s.status for s in held] == [200, 200, 200]
        fourth = await open_li()
        assert fourth.status == 429
        await fourth.response.aread()
        assert fourth.response.json()["detail"]["reason"] == "too_many_streams"
        assert int(fourth.response.headers["retry-after"]) > 0
        # The same account by its token instead of the cookie: the same three.
        assert (await open_li({"Authorization": f"Bearer {LI}"})).status == 429
        assert (await open_ops()).status == 200  # another account is not held back
        await held[0].close()  # a tab closed: its place is free again

        async def reopened() -> bool:
            return (await open_li()).status == 200

        deadline = time.monotonic() + 20
        while not await reopened():
            assert time.monotonic() < deadline, "a closed stream's place was not given back"
            await asyncio.sleep(0.2)


async def test_the_process_holds_a_bounded_number_of_streams(served: Served) -> None:
    served.feed.max_streams = 2
    async with (
        signed_in(served) as li,
        signed_in(served, OPS) as ops,
        streams(li) as open_li,
        streams(ops) as open_ops,
    ):
        assert (await open_li()).status == 200
        assert (await open_ops()).status == 200
        full = await open_li()
        assert full.status == 503
        await full.response.aread()
        assert full.response.json()["detail"]["reason"] == "streams_full"
        assert "retry-after" in full.response.headers


async def test_another_community_s_burst_cannot_crowd_out_a_scoped_stream() -> None:
    feed = LiveFeed(Settings(), queue_size=10)
    li = feed.open("li", frozenset({A}))
    ops = feed.open("ops", None)
    for n in range(100):  # a busy evening in community B
        feed.publish({"event_id": f"b{n}", "type": "offer_declined", "community_id": B})
    feed.publish({"event_id": "mine", "type": "offer_declined", "community_id": A})
    # li's queue never held B's events, so A's event found room; ops sees everything
    # (its queue is full: a stalled district-wide screen drops, it does not grow).
    assert [li.queue.get_nowait()["event_id"]] == ["mine"] and li.queue.empty()
    assert ops.queue.full()
    feed.close(li)
    feed.close(ops)
    assert feed.streams() == 0
