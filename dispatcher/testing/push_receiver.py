"""A real local HTTP server that push deliveries can be aimed at.

asyncio-based, on 127.0.0.1 with an ephemeral port, so it runs in the test's own event
loop (or, via `ThreadedPushReceiver`, in a thread of its own for sync code and the
benches). It records every request (path, query, headers, body, monotonic receipt time),
answers per path from a script (500s, 429 + Retry-After, hangs, platform errcodes), and
deduplicates by the Standard Webhooks `webhook-id` header, counting duplicates: a
delivery id answered 2xx more than once is a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        self._connections: set[asyncio.Task[Any]] = set()
        self._changed: asyncio.Condition | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> PushReceiver:
        self._changed = asyncio.Condition()
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
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
        assert self._changed is not None, "receiver not started"
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    # -- HTTP ----------------------------------------------------------------------------
    def _next_reply(self, path: str) -> Reply:
        entry = self._paths[path]
        return entry.script.popleft() if entry.script else entry.default

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # stop() cancels hanging connections. End normally: Python 3.11's stream
            # callback calls task.exception() and would log a cancelled task as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed a kept-alive connection
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        split = urlsplit(target)
        reply = self._next_reply(split.path)
        record = Received(
            method=method,
            path=split.path,
            query=parse_qs(split.query),
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
        try:
            if self.record:
                self.received.append(record)
                await self._notify()
            if entry.gate is not None:
                await entry.gate.wait()
            if reply.delay:
                await asyncio.sleep(reply.delay)
            await _send_reply(writer, reply)
        finally:
            entry.in_flight -= 1
        if self.record:
            await self._notify()
        if self.record and 200 <= reply.status < 300 and record.webhook_id:
            self.accepted[record.webhook_id] += 1
            await self._notify()
        return headers.get("connection", "").lower() != "close"


async def _send_reply(writer: asyncio.StreamWriter, reply: Reply) -> None:
    reason = HTTPStatus(reply.status).phrase
    extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers)
    writer.write(
        (
            f"HTTP/1.1 {reply.status} {reason}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(reply.body)}\r\n"
            f"{extra}\r\n"
        ).encode("latin-1")
        + reply.body
    )
    await writer.drain()


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
