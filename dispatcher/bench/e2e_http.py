"""The load generator's HTTP/1.1 client: keep-alive connections over asyncio protocols,
responses parsed by httptools (the C parser uvicorn uses).

Why not httpx: `bench e2e` runs its load generator on the same 2 cores as the system it
measures, and httpx (httpcore, anyio, h11) spent over 1 ms of CPU per POST (issue 18), a
CPU taken from the API and the worker. This client does the one thing the bench needs:
POST a prepared body and read status, headers and body (Content-Length or chunked, as the
parser decodes them), on a pool of at most `max_connections` kept-alive connections.

A connection the server closed (an idle keep-alive timeout, `Connection: close`, a crash)
is dropped from the pool and the next request opens a new one; a request on a connection
that breaks under it fails with `HttpError` (`ConnectError`, `RemoteProtocolError`) and a
request over `timeout` seconds (pool wait, connect, send and answer together) with
`TimeoutError`: the caller counts both as errors, as it counted httpx's.
"""

from __future__ import annotations

import asyncio
import collections
import json
from typing import Any
from urllib.parse import urlsplit

import httptools


class HttpError(Exception):
    """A request that got no complete answer."""


class ConnectError(HttpError):
    pass


class RemoteProtocolError(HttpError):
    """The connection closed or sent something that is not HTTP/1.1 before the answer."""


class Response:
    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers  # lower-case names
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing asked: a server speaking out of turn
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RemoteProtocolError(f"bad response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RemoteProtocolError("server closed the connection before answering"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        response = Response(self._parser.get_status_code(), self._headers, b"".join(self._body))
        if not self._parser.should_keep_alive():
            self.close()
        self._waiter, self._headers, self._body = None, {}, []
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    # ours
    def request(self, data: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None and self._waiter is None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpClient:
    """POSTs to one origin (`http://host:port`) over at most `max_connections` kept-alive
    connections; requests beyond that wait for a free one (within their `timeout`).
    Closed by `aclose()` (`async with contextlib.aclosing(HttpClient(...))`)."""

    def __init__(self, base_url: str, *, max_connections: int = 64, timeout: float = 30.0):
        url = urlsplit(base_url)
        if url.scheme != "http" or url.hostname is None:
            raise ValueError(f"an http://host:port origin, not {base_url!r}")
        self.host = url.hostname
        self.port = url.port or 80
        self.timeout = timeout
        self.max_connections = max_connections
        self.opened = 0  # connections opened in all (keep-alive reuse shows as few)
        self._host_header = f"Host: {url.netloc}\r\n".encode("latin-1")
        self._idle: collections.deque[_Connection] = collections.deque()
        self._open = 0  # connections open or being opened
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._all: set[_Connection] = set()

    async def post(self, path: str, content: bytes, headers: dict[str, str]) -> Response:
        head = [f"POST {path} HTTP/1.1\r\n".encode("latin-1"), self._host_header]
        head += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items()]
        head.append(f"Content-Length: {len(content)}\r\n\r\n".encode("latin-1"))
        return await self.send(b"".join(head) + content)

    async def send(self, data: bytes) -> Response:
        """One complete HTTP/1.1 request (head and body) → its response."""
        async with asyncio.timeout(self.timeout):
            conn = await self._acquire()
            try:
                response = await conn.request(data)
            except BaseException:
                conn.close()  # a half-read answer: the connection cannot be reused
                self._release(conn)
                raise
            self._release(conn)
            return response

    async def _acquire(self) -> _Connection:
        while True:
            while self._idle:
                conn = self._idle.pop()  # the most recently used: least likely timed out
                if not conn.closed:
                    return conn
                self._forget(conn)
            if self._open < self.max_connections:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken and cancelled at once: pass the turn on
                raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
        except OSError as exc:
            raise ConnectError(f"{self.host}:{self.port}: {exc}") from exc
        self.opened += 1
        self._all.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.closed:
            self._forget(conn)
        else:
            self._idle.append(conn)
        self._wake()

    def _forget(self, conn: _Connection) -> None:
        if conn in self._all:
            self._all.discard(conn)
            self._open -= 1

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()
        self._open = 0
        await asyncio.sleep(0)  # let the transports run their connection_lost
