"""The load generator's HTTP client (dispatcher/bench/e2e_http.py) against real local
servers on 127.0.0.1: the push receiver, uvicorn (the API's server) and tiny asyncio
servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import pytest

from dispatcher.bench.e2e_http import ConnectError, HttpClient, RemoteProtocolError
from dispatcher.testing.push_receiver import PushReceiver, Reply, hang

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tiny_server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


async def test_keep_alive_reuses_one_connection() -> None:
    async with PushReceiver() as rx, aclosing(HttpClient(rx.base_url)) as client:
        for i in range(20):
            r = await client.post("/v1/requests", b'{"n":%d}' % i, {"x-bot-id": "b"})
            assert r.status_code == 200
            assert r.json()["errcode"] == 0
        assert client.opened == 1
        assert [x.json()["n"] for x in rx.for_path("/v1/requests")] == list(range(20))
        first = rx.received[0]
        assert first.method == "POST"
        assert first.headers["x-bot-id"] == "b"
        assert first.headers["content-length"] == str(len(b'{"n":0}'))
        assert first.headers["host"] == rx.base_url.removeprefix("http://")


async def test_pool_caps_connections_and_queues_the_rest() -> None:
    async with PushReceiver() as rx, aclosing(HttpClient(rx.base_url, max_connections=3)) as client:
        rx.hold("/p")
        sends = [asyncio.create_task(client.post("/p", b"{}", {})) for _ in range(10)]
        await rx.wait_for(lambda: rx.in_flight("/p") == 3)
        await asyncio.sleep(0.05)
        assert rx.in_flight("/p") == 3  # the other 7 wait for a free connection
        rx.let_go("/p")
        answers = await asyncio.gather(*sends)
        assert [a.status_code for a in answers] == [200] * 10
        assert rx.peak("/p") == 3
        assert client.opened == 3


async def test_a_4xx_answer_and_its_body() -> None:
    async with PushReceiver() as rx, aclosing(HttpClient(rx.base_url)) as client:
        rx.script("/v1/requests", Reply(status=422, body=b'{"detail":"bad signature"}'))
        r = await client.post("/v1/requests", b"{}", {})
        assert r.status_code == 422
        assert r.text == '{"detail":"bad signature"}'
        assert r.headers["content-type"] == "application/json"
        again = await client.post("/v1/requests", b"{}", {})
        assert again.status_code == 200
        assert client.opened == 1  # a 4xx keeps the connection


async def test_server_closing_after_its_answer_takes_a_new_connection() -> None:
    connections = 0

    async def close_after_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        body = await read_request(reader)
        writer.write(
            b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async with tiny_server(close_after_one) as url, aclosing(HttpClient(url)) as client:
        for i in range(3):
            r = await client.post("/x", b"%d" % i, {})
            assert (r.status_code, r.content) == (202, b"%d" % i)
        assert connections == client.opened == 3


async def test_server_closing_an_idle_kept_alive_connection() -> None:
    async with PushReceiver() as rx, aclosing(HttpClient(rx.base_url)) as client:
        assert (await client.post("/a", b"{}", {})).status_code == 200
        for conn in list(rx._connections):  # the server's idle timeout
            conn.close()
        await asyncio.sleep(0.05)
        assert (await client.post("/a", b"{}", {})).status_code == 200
        assert client.opened == 2


async def test_server_closing_before_answering_is_an_error() -> None:
    calls = 0

    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await read_request(reader)
        if calls == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")  # cut short
        writer.close()

    async with tiny_server(rude) as url, aclosing(HttpClient(url)) as client:
        with pytest.raises(RemoteProtocolError):
            await client.post("/x", b"{}", {})
        with pytest.raises(RemoteProtocolError):
            await client.post("/x", b"{}", {})
        assert client.opened == 2  # the broken connection was not reused


async def test_chunked_answer() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(
                b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n"
                b'content-type: application/json\r\n\r\n5\r\n{"a":\r\n3\r\n12}\r\n0\r\n\r\n'
            )
            await writer.drain()

    async with tiny_server(chunked) as url, aclosing(HttpClient(url)) as client:
        for _ in range(2):
            r = await client.post("/x", b"{}", {})
            assert r.status_code == 202
            assert r.json() == {"a": 12}
        assert client.opened == 1


async def test_timeout_then_the_pool_still_works() -> None:
    async with PushReceiver() as rx, aclosing(HttpClient(rx.base_url, timeout=0.2)) as client:
        rx.script("/slow", hang(5))
        with pytest.raises(TimeoutError):
            await client.post("/slow", b"{}", {})
        r = await client.post("/slow", b"{}", {})
        assert r.status_code == 200
        assert client.opened == 2  # the timed-out connection was dropped


async def test_nobody_listening_is_a_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with aclosing(HttpClient(f"http://127.0.0.1:{port}")) as client:
        with pytest.raises(ConnectError):
            await client.post("/x", b"{}", {})


async def test_against_uvicorn_with_httptools() -> None:
    uvicorn = pytest.importorskip("uvicorn")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        doc = json.loads(body)
        status = 202 if doc.get("ok") else 400
        out = json.dumps({"request_id": doc.get("id"), "merged": False}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http="httptools", lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with aclosing(HttpClient(f"http://127.0.0.1:{port}", max_connections=4)) as client:
            posts = [
                client.post("/v1/requests", json.dumps({"ok": i % 5 != 0, "id": i}).encode(), {})
                for i in range(40)
            ]
            answers = await asyncio.gather(*posts)
            assert [a.status_code for a in answers] == [
                400 if i % 5 == 0 else 202 for i in range(40)
            ]
            assert [a.json()["request_id"] for a in answers] == list(range(40))
            assert client.opened <= 4
    finally:
        server.should_exit = True
        await serving


class _Watching:
    """What offer_load reads of the bench's Observer."""

    def __init__(self) -> None:
        from dispatcher.bench.e2e_observe import Observations

        self.obs = Observations()


async def test_offer_load_through_the_client_counts_answers_and_errors() -> None:
    from dispatcher.bench.e2e_load import Prepared, offer_load

    prepared = [Prepared(b'{"n":%d}' % i, {"content-type": "application/json"}) for i in range(6)]
    async with PushReceiver() as rx, aclosing(HttpClient(rx.base_url, timeout=0.5)) as client:
        accepted = Reply(status=202, body=b'{"request_id":"r-1","merged":false}')
        rx.script("/v1/requests", accepted, Reply(status=409, body=b'{"detail":"dup"}'))
        rx.script("/v1/requests", hang(5))
        rx.set_default("/v1/requests", Reply(status=202, body=b'{"request_id":"r-2"}'))
        result = await offer_load(
            client,
            prepared,
            200.0,
            1.0,
            _Watching(),
            drain_s=0.0,  # type: ignore[arg-type]
        )
    statuses = sorted(s.status for s in result.sent)
    assert statuses == [0, 202, 202, 202, 202, 409]
    [timed_out] = [s for s in result.sent if s.status == 0]
    assert timed_out.error == "TimeoutError" and timed_out.answered_at > timed_out.at
    [refused] = [s for s in result.sent if s.status == 409]
    assert refused.error == '{"detail":"dup"}'
    assert {s.request_id for s in result.accepted()} == {"r-1", "r-2"}
    assert all(s.at >= s.scheduled for s in result.sent)
    assert result.scenario("x", {})["http_errors"] == 2


async def test_offer_load_with_nobody_listening_counts_connect_errors() -> None:
    from dispatcher.bench.e2e_load import Prepared, offer_load

    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    prepared = [Prepared(b"{}", {}) for _ in range(3)]
    async with aclosing(HttpClient(f"http://127.0.0.1:{port}")) as client:
        result = await offer_load(
            client,
            prepared,
            100.0,
            1.0,
            _Watching(),
            drain_s=0.0,  # type: ignore[arg-type]
        )
    assert [s.error for s in result.sent] == ["ConnectError"] * 3
    assert result.accepted() == []
