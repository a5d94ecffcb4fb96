"""The push client's transport for plain-http endpoints: kept-alive HTTP/1.1 connections
over asyncio protocols, answers parsed by httptools (the C parser uvicorn uses).

Why: httpx's own transport (httpcore's pool, AnyIO streams, h11 in Python) spent ≈ 0.8 ms
of CPU per POST, the largest part of the notify agent's push path (issue 18; `bench
notify`). httpx stays the client (requests built by the channels, `AsyncClient.send`,
`httpx.Response`); only the bytes on the wire change hands. Anything this transport does
not handle goes to the fallback (httpx's transport): https (WeCom, DingTalk, Feishu, TLS
relays), HEAD/CONNECT, bodies streamed without a Content-Length, `Expect`/`Upgrade`.

The request is written as httpcore writes it (its headers in httpx's order and casing, then
the body), so a receiver sees the same bytes. Failures are httpx's exceptions, so the
channels map them as before: a full pool past the `pool` timeout `PoolTimeout`, a refused
or unreachable host `ConnectError` (`ConnectTimeout` past `connect`), no byte of the answer
for `read` seconds `ReadTimeout` (the clock restarts at each byte received, as httpx's per
read; it starts once the request is handed to the socket), a connection that closed or
spoke garbage before a complete answer `RemoteProtocolError`, a header h11 would refuse
to write (CR/LF in a value: an injected header) `LocalProtocolError`. Answers are read as
h11 reads them: informational ones (1xx but 101) skipped, a body with neither length nor
chunking ended by the close.

Kept alive: per origin at most `max_connections` open, `max_keepalive` idle, each idle at
most `keepalive_expiry` seconds. A connection the server closed while idle is dropped when
its close arrives (`connection_lost`), and a reused one is polled first (a close that
arrived while the event loop was busy elsewhere), as httpcore's readability check does.
"""

from __future__ import annotations

import asyncio
import collections
import re
import select
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import httptools
import httpx

from dispatcher.push.egress import PUBLIC_ONLY, EgressPolicy

R = TypeVar("R")

_PASS_THROUGH = frozenset({b"transfer-encoding", b"expect", b"upgrade"})
# What h11 refuses to write (httpx itself checks neither): a header name that is not a
# token, a value with CR, LF or NUL in it (a header injected into the request).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\r\n\x00]")


def socket_readable(sock: socket.socket) -> bool:
    """httpcore's `is_socket_readable`: a closed socket counts as readable (at EOF)."""
    fd = sock.fileno()
    if fd < 0:
        return True
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return bool(poll.poll(0))


class Connection(asyncio.Protocol, ABC, Generic[R]):
    """One kept-alive connection, one request at a time (no pipelining); `respond` makes
    the answer's object (an `httpx.Response` here; the bench's load generator,
    dispatcher/bench/e2e_http.py, makes a lighter one)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[R] | None = None
        self._read_timeout: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._body: list[bytes] = []
        self._until_close = False  # the answer's body ends where the connection does

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, but not always an asyncio.Transport subclass (uvloop's, in
        # the API: its group replies use this client).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing asked: a server speaking out of turn
            self.close()
            return
        self._arm()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and self._until_close and exc is None:
            self.on_message_complete()  # its close ends it (HTTP/1.0 style), as h11 reads it
            return
        self._fail(httpx.RemoteProtocolError("server disconnected without sending a response"))

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        framed = (b"content-length", b"transfer-encoding")
        status = self._parser.get_status_code()
        self._until_close = (
            status >= 200
            and status not in (204, 304)
            and not any(name.lower() in framed for name, _ in self._headers)
        )

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # informational (103 Early Hints…): as
            self._headers, self._reason, self._body = [], b"", []  # httpcore, wait on
            return
        response = self.respond(status, self._reason, self._headers, b"".join(self._body))
        self._until_close = False
        assert self.transport is not None
        # Not reused if the server said so, or answered before it had read all we sent.
        if not self._parser.should_keep_alive() or self.transport.get_write_buffer_size():
            self.close()
        self._waiter, self._headers, self._reason, self._body = None, [], b"", []
        self._disarm()
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    # ours
    @abstractmethod
    def respond(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> R:
        """The answer as the caller reads it."""

    def request(self, data: bytes, read_timeout: float | None) -> asyncio.Future[R]:
        assert self.transport is not None and self._waiter is None
        self._waiter = asyncio.get_running_loop().create_future()
        self._read_timeout = read_timeout
        self.transport.write(data)
        self._arm()
        return self._waiter

    def _arm(self) -> None:
        """(Re)start the read clock: `read` seconds for the next byte of the answer."""
        if self._timer is not None:
            self._timer.cancel()
        if self._read_timeout is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        self._fail(httpx.ReadTimeout("no answer within the read timeout"))

    def _fail(self, exc: Exception) -> None:
        self._disarm()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def reusable(self) -> bool:
        """Still open, and nothing (a close, stray bytes) arrived while it was idle."""
        if self.closed or self.transport is None:
            return False
        sock = self.transport.get_extra_info("socket")
        return sock is None or not hasattr(select, "poll") or not socket_readable(sock)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _HttpxConnection(Connection[httpx.Response]):
    def respond(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> httpx.Response:
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )


_UNLIMITED = 1 << 30


class Origin(Generic[R]):
    """The connections to one `host:port` (None in `limits`: no limit)."""

    def __init__(
        self,
        host: str,
        port: int,
        limits: httpx.Limits,
        connection: Callable[[], Connection[R]],
        egress: EgressPolicy = PUBLIC_ONLY,
    ) -> None:
        self.host, self.port = host, port
        self.egress = egress
        self.max_connections = limits.max_connections or _UNLIMITED
        keepalive = limits.max_keepalive_connections
        self.max_keepalive = _UNLIMITED if keepalive is None else keepalive
        self.expiry = limits.keepalive_expiry
        self.connection = connection
        self.idle: collections.deque[Connection[R]] = collections.deque()
        self.open: set[Connection[R]] = set()
        self.opening = 0
        self.opened = 0  # connections opened in all (kept alive: few, however many requests)
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def send(self, data: bytes, timeouts: dict[str, float | None]) -> R:
        conn = await self._acquire(timeouts)
        try:
            response = await conn.request(data, timeouts.get("read"))
        except BaseException:
            conn.close()  # a half-read answer: the connection cannot be reused
            self._release(conn)
            raise
        self._release(conn)
        return response

    async def _acquire(self, timeouts: dict[str, float | None]) -> Connection[R]:
        while True:
            now = time.monotonic()
            while self.idle:
                conn = self.idle.pop()  # the most recently used: least likely timed out
                if self._fresh(conn, now) and conn.reusable():
                    return conn
                self._drop(conn)
            if len(self.open) + self.opening < self.max_connections:
                return await self._connect(timeouts.get("connect"))
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await waiter
            except TimeoutError:
                raise httpx.PoolTimeout("no free connection within the pool timeout") from None
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken and cancelled at once: pass the turn on
                raise

    async def _connect(self, timeout: float | None) -> Connection[R]:
        self.opening += 1
        try:
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(timeout):
                conn = await self._open(loop)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {self.host}:{self.port}") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        finally:
            self.opening -= 1
            self._wake()
        self.open.add(conn)
        self.opened += 1
        return conn

    async def _open(self, loop: asyncio.AbstractEventLoop) -> Connection[R]:
        """A connection to the first address that answers, of those the egress policy
        allows for the host (a name resolved once, here: see dispatcher/push/egress.py)."""
        failed: OSError | None = None
        for address in await self.egress.addresses(self.host, self.port):
            try:
                _, conn = await loop.create_connection(self.connection, address, self.port)
            except OSError as exc:
                failed = exc
            else:
                return conn
        assert failed is not None  # `addresses` returns at least one or raises
        raise failed

    def _fresh(self, conn: Connection[R], now: float) -> bool:
        return self.expiry is None or now - conn.idle_since < self.expiry

    def _release(self, conn: Connection[R]) -> None:
        if conn.closed or len(self.idle) >= self.max_keepalive:
            self._drop(conn)
        else:
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
            # The least recently used sit at the left: drop the expired or closed ones.
            while self.idle and (
                self.idle[0].closed or not self._fresh(self.idle[0], time.monotonic())
            ):
                self._drop(self.idle.popleft())
        self._wake()

    def _drop(self, conn: Connection[R]) -> None:
        conn.close()
        self.open.discard(conn)

    def _wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        for conn in self.open:
            conn.close()
        self.open.clear()
        self.idle.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost


class PlainHttpTransport(httpx.AsyncBaseTransport):
    """http:// requests on our own kept-alive connections; the rest to `fallback`."""

    def __init__(
        self,
        fallback: httpx.AsyncBaseTransport,
        limits: httpx.Limits,
        egress: EgressPolicy = PUBLIC_ONLY,
    ) -> None:
        self.fallback = fallback
        self.limits = limits
        self.egress = egress
        self.origins: dict[tuple[str, int], Origin[httpx.Response]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (
            url.scheme != "http"
            or request.method in ("HEAD", "CONNECT")
            or any(name.lower() in _PASS_THROUGH for name, _ in request.headers.raw)
        ):
            return await self.fallback.handle_async_request(request)
        key = (url.host, url.port or 80)
        origin = self.origins.get(key)
        if origin is None:
            origin = self.origins[key] = Origin(*key, self.limits, _HttpxConnection, self.egress)
        body = await request.aread()
        head = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
                raise httpx.LocalProtocolError(f"illegal header {name[:40]!r}")
            head += (name, b": ", value, b"\r\n")
        head += (b"\r\n", body)
        return await origin.send(b"".join(head), request.extensions.get("timeout", {}))

    def connections(self) -> int:
        """Plain-http connections open now (keep-alive: a few, however many POSTs)."""
        return sum(len(o.open) for o in self.origins.values())

    async def aclose(self) -> None:
        for origin in self.origins.values():
            await origin.aclose()
        self.origins.clear()
        await self.fallback.aclose()
