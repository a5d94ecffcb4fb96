"""The API keeps an idle keep-alive connection longer than its clients do.

The demo's e2e run failed once with "Server disconnected without sending a response": uvicorn
closed connections idle for 5 s (its default) and httpx reuses idle connections for up to 5 s
(its default), so a request sent on a connection at the moment the server closed it was lost
in between. The server's limit must be the longer one. The check: a connection left idle
past the clients' limit still answers the next request on the same socket.
"""

from __future__ import annotations

import asyncio

import httpx

from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack

CLIENT_IDLE_LIMIT_S = 5.0  # httpx's default keepalive_expiry: our bots, demo and benches


async def get_twice_on_one_connection(host: str, port: int, idle: float) -> list[bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    status_lines = []
    try:
        for pause in (0.0, idle):
            await asyncio.sleep(pause)
            writer.write(request)
            await writer.drain()
            status_lines.append(await reader.readline())  # b"" if the server closed it
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
    finally:
        writer.close()
    return status_lines


async def test_an_idle_connection_outlives_the_clients_idle_limit(stack: LocalStack) -> None:
    assert httpx.Limits().keepalive_expiry == CLIENT_IDLE_LIMIT_S
    assert Settings().api_keepalive_seconds > CLIENT_IDLE_LIMIT_S
    await stack.start_api()
    lines = await get_twice_on_one_connection("127.0.0.1", stack.api_port, CLIENT_IDLE_LIMIT_S + 1)
    assert [line.split(b" ")[1] for line in lines] == [b"200", b"200"], lines
