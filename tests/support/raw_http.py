"""Tiny asyncio HTTP/1.1 servers for tests of the push client's connections: read one
request whole, answer with prepared bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and its Content-Length body, as received."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def answering(
    answers: Sequence[bytes] | Callable[[bytes], bytes], seen: list[bytes] | None = None
) -> Handler:
    """A server answering the requests on each connection with `answers` in turn (then
    closing it), or each with `answers(request)` for as long as the client stays; what it
    received is appended to `seen`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fixed = None if callable(answers) else list(answers)  # this connection's turn
        try:
            while fixed is None or fixed:
                request = await read_request(reader)
                if seen is not None:
                    seen.append(request)
                if fixed is None:
                    assert callable(answers)
                    writer.write(answers(request))
                else:
                    writer.write(fixed.pop(0))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return handle


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    """`handler` on 127.0.0.1 (a free port), and its base URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
