"""The push client's connections (dispatcher/push/http.py) against real local sockets:
kept alive across POSTs, and a connection the server closed while idle is noticed and
replaced, so the next push still goes out. Both transports: plain http on our own
connections (`PlainHttpTransport`: the close arrives as `connection_lost`, and a reused
connection is polled first), and httpx's, which https takes (httpcore asks each pooled
connection whether it is readable; our `KeptAliveStream` answers by polling its socket)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from dispatcher.push.http import KeptAliveStream, make_client
from dispatcher.push.plain_http import PlainHttpTransport
from dispatcher.testing.push_receiver import PushReceiver


def _plain(client: httpx.AsyncClient) -> PlainHttpTransport:
    transport = client._transport  # type: ignore[attr-defined]
    assert isinstance(transport, PlainHttpTransport)
    return transport


def ours(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


def httpx_own(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same client's fallback (what https endpoints use), here on plain http."""
    return httpx.AsyncClient(transport=_plain(client).fallback, follow_redirects=False)


TRANSPORTS = [ours, httpx_own]


async def test_sequential_posts_share_one_kept_alive_connection() -> None:
    async with PushReceiver() as receiver:
        client = make_client()
        try:
            for i in range(20):
                r = await client.post(receiver.url("/k"), content=b"{}", headers={"x-i": str(i)})
                assert r.status_code == 200
            assert _plain(client).connections() == 1
        finally:
            await client.aclose()
    assert len(receiver.for_path("/k")) == 20


async def test_the_fallback_keeps_its_connection_alive_too() -> None:
    async with PushReceiver() as receiver:
        client = make_client()
        fallback = httpx_own(client)
        try:
            for i in range(20):
                r = await fallback.post(receiver.url("/k"), content=b"{}", headers={"x-i": str(i)})
                assert r.status_code == 200
            [connection] = _plain(client).fallback._pool.connections  # type: ignore[attr-defined]
            assert isinstance(connection._connection._network_stream, KeptAliveStream)
            assert _plain(client).connections() == 0  # nothing went the plain way
        finally:
            await client.aclose()
    assert len(receiver.for_path("/k")) == 20


@pytest.mark.parametrize("via", TRANSPORTS)
async def test_a_connection_the_server_closed_while_idle_is_replaced(
    via: Callable[[httpx.AsyncClient], httpx.AsyncClient],
) -> None:
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
    owner = make_client()
    client = via(owner)
    try:
        for _ in range(3):
            r = await client.post(f"http://127.0.0.1:{port}/p", content=b"{}")
            assert r.status_code == 200
            await asyncio.sleep(0.05)  # the close has reached our socket: it is readable
    finally:
        await owner.aclose()
        server.close()
        await server.wait_closed()
    assert connections == 3
