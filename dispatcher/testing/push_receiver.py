"""A real local HTTP server that push deliveries can be aimed at.

asyncio-based (a protocol, requests parsed by httptools: cheap enough for `bench e2e`,
which shares the machine with what it measures), on 127.0.0.1 with an ephemeral port, so
it runs in the test's own event loop (or, via `ThreadedPushReceiver`, in a thread of its
own for sync code and the benches). It records every request (path, query, headers, body,
monotonic receipt time), answers per path from a script (500s, 429 + Retry-After, hangs,
platform errcodes), and deduplicates by the Standard Webhooks `webhook-id` header,
counting duplicates: a delivery id answered 2xx more than once is a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httptools

OK_BODY = b'{"errcode":0,"errmsg":"ok","code":0,"msg":"success"}'


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = OK_BODY
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to hang before answering


def ok() -> Reply:
    return Reply()


def server_error(status: int = 500) -> Reply:
    return Reply(status=status, body=b'{"error":"boom"}')


def rate_limited(retry_after: str = "1") -> Reply:
    return Reply(status=429, body=b'{"error":"slow down"}', headers=(("Retry-After", retry_after),))


def hang(seconds: float) -> Reply:
    return Reply(delay=seconds)


def platform_error(code: int, field: str = "errcode", message: str = "error") -> Reply:
    """HTTP 200 with a platform error code, as WeCom/DingTalk ("errcode") or Feishu ("code")."""
    return Reply(body=json.dumps({field: code, "errmsg": message, "msg": message}).encode())


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() when the request had been read
    status: int  # what the receiver answered (or will, after a hang)

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("webhook-id")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Path:
    script: deque[Reply] = field(default_factory=deque)
    default: Reply = field(default_factory=ok)
    gate: asyncio.Event | None = None  # held: requests wait (in flight) until it is set
    in_flight: int = 0  # requests read and not yet answered
    peak: int = 0  # the most in flight at once


class PushReceiver:
    """`record=False` keeps no requests (a bench's long run); `on_request` sees each one as
    it is read, before the answer."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        record: bool = True,
        on_request: Callable[[Received], None] | None = None,
    ) -> None:
        self.host = host
        self.record = record
        self.on_request = on_request
        self.count = 0
        self.port = 0
        self.received: list[Received] = []
        self.accepted: Counter[str] = Counter()  # webhook-id -> 2xx answers sent
        self._paths: defaultdict[str, _Path] = defaultdict(_Path)
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._waiters: list[asyncio.Future[None]] = []  # wait_for's, woken on each change
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> PushReceiver:
        self._started = True
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        waiting = [c.task for c in self._connections if c.task is not None]
        for conn in list(self._connections):
            conn.abort()
        await asyncio.gather(*waiting, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> PushReceiver:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- configuration -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with these replies, in order."""
        self._paths[path].script.extend(replies)

    def set_default(self, path: str, reply: Reply) -> None:
        """Answer `path` with `reply` once its script is used up (initially 200 OK)."""
        self._paths[path].default = reply

    def hold(self, path: str) -> None:
        """Keep requests to `path` unanswered (in flight) until `let_go`: shows how many
        a sender has in flight at once."""
        self._paths[path].gate = asyncio.Event()

    def let_go(self, path: str) -> None:
        entry = self._paths[path]
        if entry.gate is not None:
            entry.gate.set()
            entry.gate = None

    def in_flight(self, path: str) -> int:
        return self._paths[path].in_flight

    def peak(self, path: str) -> int:
        return self._paths[path].peak

    def reset_peak(self, path: str) -> None:
        entry = self._paths[path]
        entry.peak = entry.in_flight

    def reset(self) -> None:
        self.received.clear()
        self.accepted.clear()
        self._paths.clear()

    # -- observations --------------------------------------------------------------------
    def for_path(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def unique_ids(self) -> set[str]:
        return set(self.accepted)

    @property
    def duplicates(self) -> int:
        """Deliveries answered 2xx more than once (what a deduping consumer would drop)."""
        return sum(count - 1 for count in self.accepted.values())

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        assert self._started, "receiver not started"
        async with asyncio.timeout(timeout):
            while not predicate():
                changed = asyncio.get_running_loop().create_future()
                self._waiters.append(changed)
                await changed

    # -- HTTP ----------------------------------------------------------------------------
    def _next_reply(self, path: str) -> Reply:
        entry = self._paths[path]
        return entry.script.popleft() if entry.script else entry.default

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _begin(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Exchange:
        """A request has been read: record it and choose its reply."""
        split = urlsplit(target)
        reply = self._next_reply(split.path)
        record = Received(
            method=method,
            path=split.path,
            query=parse_qs(split.query) if split.query else {},
            headers=headers,
            body=body,
            at=time.monotonic(),
            status=reply.status,
        )
        self.count += 1
        if self.on_request is not None:
            self.on_request(record)
        entry = self._paths[split.path]
        entry.in_flight += 1
        entry.peak = max(entry.peak, entry.in_flight)
        if self.record:
            self.received.append(record)
            self._notify()
        return _Exchange(record, reply, entry)

    def _end(self, exchange: _Exchange, answered: bool) -> None:
        """Its reply has been written (`answered`), or the connection was gone by then."""
        exchange.entry.in_flight -= 1
        if self.record:
            webhook_id = exchange.record.webhook_id
            if answered and 200 <= exchange.reply.status < 300 and webhook_id:
                self.accepted[webhook_id] += 1
            self._notify()


@dataclass
class _Exchange:
    record: Received
    reply: Reply
    entry: _Path


class _Connection(asyncio.Protocol):
    """One client connection, parsed by httptools (uvicorn's C parser): a request that needs
    no waiting (no gate, no delay) is answered inside `data_received`, without a task or a
    stream; one that waits gets a task, and requests behind it on the same connection
    (pipelined) wait their turn, so that answers keep the order of the requests."""

    def __init__(self, receiver: PushReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url: list[bytes] = []
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._queue: deque[tuple[str, str, dict[str, str], bytes]] = deque()
        self.task: asyncio.Task[None] | None = None
        self._closing = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.receiver._connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        # A waiting request goes on waiting (its in-flight count with it), as it did when
        # the receiver noticed a closed connection only when it wrote the answer; stop()
        # still finds it among the connections.
        self._closing = True
        self._forget_when_done()

    def _forget_when_done(self) -> None:
        if self._closing and self.task is None:
            self.receiver._connections.discard(self)

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode("latin-1")
        request = (
            method,
            b"".join(self._url).decode("latin-1"),
            self._headers,
            b"".join(self._body),
        )
        self._url, self._headers, self._body = [], {}, []
        if self.task is not None or self._queue:
            self._queue.append(request)
            return
        self._serve(*request)

    # serving
    def _serve(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        if self._closing:
            return
        exchange = self.receiver._begin(method, target, headers, body)
        if exchange.entry.gate is None and not exchange.reply.delay:
            self._answer(exchange, headers)
        else:
            self.task = asyncio.get_running_loop().create_task(self._wait(exchange, headers))
            self.task.add_done_callback(lambda task: self._waited(task, exchange))

    async def _wait(self, exchange: _Exchange, headers: dict[str, str]) -> None:
        if exchange.entry.gate is not None:
            await exchange.entry.gate.wait()
        if exchange.reply.delay:
            await asyncio.sleep(exchange.reply.delay)
        self.task = None
        self._answer(exchange, headers)
        while self._queue and self.task is None and not self._closing:
            self._serve(*self._queue.popleft())
        self._forget_when_done()

    def _waited(self, task: asyncio.Task[None], exchange: _Exchange) -> None:
        # stop() cancelled it (perhaps before it ever ran): it ends unanswered.
        if task.cancelled():
            self.task = None
            self.receiver._end(exchange, answered=False)
            self._forget_when_done()

    def _answer(self, exchange: _Exchange, headers: dict[str, str]) -> None:
        assert self.transport is not None
        answered = not self.transport.is_closing()
        if answered:
            self.transport.write(_reply_bytes(exchange.reply))
        self.receiver._end(exchange, answered)
        if headers.get("connection", "").lower() == "close":
            self.close()

    def close(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """stop(): drop the connection and any request still waiting on it."""
        self.close()
        if self.task is not None:
            self.task.cancel()


def _reply_bytes(reply: Reply) -> bytes:
    reason = HTTPStatus(reply.status).phrase
    extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers)
    return (
        f"HTTP/1.1 {reply.status} {reason}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(reply.body)}\r\n"
        f"{extra}\r\n"
    ).encode("latin-1") + reply.body


class ThreadedPushReceiver:
    """The receiver on its own event loop in a daemon thread, for sync code and benches:
    the sender's loop then shares no CPU time slices with the receiver's coroutines."""

    def __init__(self) -> None:
        self.receiver = PushReceiver()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> PushReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self._loop).result(5)
        return self.receiver

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
