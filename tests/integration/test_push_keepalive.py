"""The push client's connections (dispatcher/push/http.py) against real local sockets:
kept alive across POSTs, and a connection the server closed while idle is noticed and
replaced, so the next push still goes out (httpcore asks each pooled connection whether it
is readable; our stream answers by polling its socket)."""

from __future__ import annotations

import asyncio

from dispatcher.push.http import KeptAliveStream, make_client
from dispatcher.testing.push_receiver import PushReceiver


async def test_sequential_posts_share_one_kept_alive_connection() -> None:
    async with PushReceiver() as receiver:
        client = make_client()
        try:
            for i in range(20):
                r = await client.post(receiver.url("/k"), content=b"{}", headers={"x-i": str(i)})
                assert r.status_code == 200
            pool = client._transport._pool  # type: ignore[attr-defined]
            [connection] = pool.connections
            assert isinstance(connection._connection._network_stream, KeptAliveStream)
        finally:
            await client.aclose()
    assert len(receiver.for_path("/k")) == 20


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    connections = 0

    async def answer_once_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")  # no "close" header
        await writer.drain()
        writer.close()  # ... but the server closes it anyway, once idle

    server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = make_client()
    try:
        for _ in range(3):
            r = await client.post(f"http://127.0.0.1:{port}/p", content=b"{}")
            assert r.status_code == 200
            await asyncio.sleep(0.05)  # the close has reached our socket: it is readable
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    assert connections == 3
