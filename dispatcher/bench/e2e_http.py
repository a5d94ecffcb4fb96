"""The load generator's HTTP/1.1 client: keep-alive connections over asyncio protocols,
responses parsed by httptools (the C parser uvicorn uses).

Why not httpx: `bench e2e` runs its load generator on the same 2 cores as the system it
measures, and httpx (httpcore, anyio, h11) spent over 1 ms of CPU per POST (issue 18), a
CPU taken from the API and the worker. This client does the one thing the bench needs:
POST a prepared body and read status, headers and body (Content-Length or chunked, as the
parser decodes them), on a pool of at most `max_connections` kept-alive connections.

The connections and their pool are the push client's (`dispatcher/push/plain_http.py`,
`Origin`), answering with this module's small `Response` rather than an `httpx.Response`
(the load generator parses ~10 µs less per POST). A connection the server closed (an idle
keep-alive timeout, `Connection: close`, a crash) is dropped from the pool and the next
request opens a new one; a request on a connection that breaks under it fails with
`HttpError` (`ConnectError`, `RemoteProtocolError`: httpx's classes) and a request over
`timeout` seconds (pool wait, connect, send and answer together) with `TimeoutError`: the
caller counts both as errors, as it counted httpx's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from dispatcher.push.plain_http import Connection, Origin

HttpError = httpx.TransportError  # a request that got no complete answer
ConnectError = httpx.ConnectError
RemoteProtocolError = httpx.RemoteProtocolError  # closed, or not HTTP/1.1, before the answer


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


class _Connection(Connection[Response]):
    def respond(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        named = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        return Response(status, named, body)


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
        self._host_header = f"Host: {url.netloc}\r\n".encode("latin-1")
        # Every connection kept, never expired: the bench's load comes in bursts.
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=None,
        )
        self._origin = Origin(self.host, self.port, limits, _Connection)

    @property
    def opened(self) -> int:
        """Connections opened in all (keep-alive reuse shows as few)."""
        return self._origin.opened

    async def post(self, path: str, content: bytes, headers: dict[str, str]) -> Response:
        head = [f"POST {path} HTTP/1.1\r\n".encode("latin-1"), self._host_header]
        head += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items()]
        head.append(f"Content-Length: {len(content)}\r\n\r\n".encode("latin-1"))
        return await self.send(b"".join(head) + content)

    async def send(self, data: bytes) -> Response:
        """One complete HTTP/1.1 request (head and body) → its response."""
        async with asyncio.timeout(self.timeout):
            return await self._origin.send(data, {})

    async def aclose(self) -> None:
        await self._origin.aclose()
