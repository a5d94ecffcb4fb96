"""`PlainHttpTransport` (dispatcher/push/plain_http.py) on real local sockets: the same
request bytes as httpx's own transport, answers as httpx reads them (chunked, gzip,
`Connection: close`), and every failure as the httpx exception the channels map, the pool
still working after it."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from collections.abc import AsyncIterator

import httpx
import pytest

from dispatcher.push.http import make_client
from dispatcher.push.plain_http import PlainHttpTransport
from tests.support import raw_http
from tests.support.raw_http import Handler, read_request, serve


def answering(*answers: bytes, seen: list[bytes] | None = None) -> Handler:
    """A server answering each request on a connection with the next of `answers`."""
    return raw_http.answering(answers, seen)


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


async def test_the_request_bytes_are_httpx_own() -> None:
    seen: list[bytes] = []
    server, base = await serve(answering(OK, OK, seen=seen))
    client = make_client()
    fallback = httpx.AsyncClient(transport=client._transport.fallback)  # type: ignore[attr-defined]
    body = '{"text":"帮忙"}'.encode()
    headers = {"content-type": "application/json; charset=utf-8", "Webhook-Id": "msg_1"}
    try:
        for sender in (client, fallback):
            request = client.build_request(
                "POST", base + "/p?q=1&r=%20", content=body, headers=headers
            )
            assert (await sender.send(request)).text == "ok"
    finally:
        await client.aclose()
        server.close()
    assert len(seen) == 2 and seen[0] == seen[1]


async def test_answers_chunked_gzipped_and_closing() -> None:
    zipped = gzip.compress(b'{"errcode":0}')
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    gzipped = (
        b"HTTP/1.1 201 Created\r\ncontent-encoding: gzip\r\ncontent-length: "
        + str(len(zipped)).encode()
        + b"\r\n\r\n"
        + zipped
    )
    closing = (
        b"HTTP/1.1 429 Too Many\r\nretry-after: 3\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    )
    server, base = await serve(answering(chunked, gzipped, closing))
    client = make_client()
    try:
        r1 = await client.post(base + "/a", content=b"{}")
        r2 = await client.post(base + "/a", content=b"{}")
        r3 = await client.post(base + "/a", content=b"{}")
        r4 = await client.post(base + "/a", content=b"{}")  # on a new connection
    finally:
        await client.aclose()
        server.close()
    assert (r1.status_code, r1.content) == (200, b"abcde")
    assert (r2.status_code, r2.json(), r2.reason_phrase) == (201, {"errcode": 0}, "Created")
    assert (r3.status_code, r3.headers["retry-after"]) == (429, "3")
    assert r4.status_code == 200 and r4.http_version == "HTTP/1.1"


async def test_no_answer_is_a_read_timeout_and_the_connection_is_not_reused() -> None:
    connections = 0

    async def hang_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await read_request(reader)
            await reader.read()  # never answers; returns when the client closes
            writer.close()
            return
        await answering(OK)(reader, writer)

    server, base = await serve(hang_first)
    client = make_client()
    try:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(base + "/h", content=b"{}", timeout=0.2)
        assert (await client.post(base + "/h", content=b"{}")).status_code == 200
    finally:
        await client.aclose()
        server.close()
    assert connections == 2


async def test_refused_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        client = make_client()
        try:
            with pytest.raises(httpx.ConnectError):
                await client.post(f"http://127.0.0.1:{port}/x", content=b"{}")
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf", b"SMTP ready\r\n\r\n", b""],
    ids=["cut short", "not http", "closed"],
)
async def test_a_broken_answer_is_a_remote_protocol_error(answer: bytes) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        writer.close()

    server, base = await serve(broken)
    client = make_client()
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(base + "/b", content=b"{}")
    finally:
        await client.aclose()
        server.close()


async def test_a_full_pool_waits_then_times_out_and_a_cancelled_request_frees_its_slot() -> None:
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await read_request(reader)
                await release.wait()
                writer.write(OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server, base = await serve(slow)
    client = make_client(max_connections=1, max_keepalive=1)
    transport = client._transport  # type: ignore[attr-defined]
    assert isinstance(transport, PlainHttpTransport)
    try:
        first = asyncio.create_task(client.post(base + "/s", content=b"{}"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await client.post(base + "/s", content=b"{}", timeout=httpx.Timeout(5.0, pool=0.05))
        first.cancel()  # the connection is closed under it, its slot freed
        with pytest.raises(asyncio.CancelledError):
            await first
        release.set()
        assert (await client.post(base + "/s", content=b"{}")).status_code == 200
        assert transport.connections() == 1
    finally:
        await client.aclose()
        server.close()


async def test_a_close_that_arrived_while_the_loop_was_busy_is_noticed_before_reuse() -> None:
    """The server's close is in our socket but the event loop has not run since: the
    connection is polled before it is reused, so the POST goes out on a new one."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    closed = threading.Event()

    def server() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while not data.endswith(b"{}"):
                    data += conn.recv(65536)
                conn.sendall(OK)
            closed.set()

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    client = make_client()
    try:
        assert (await client.post(f"http://127.0.0.1:{port}/c", content=b"{}")).text == "ok"
        closed.wait(5.0)  # blocks the loop: connection_lost cannot have run
        assert (await client.post(f"http://127.0.0.1:{port}/c", content=b"{}")).text == "ok"
    finally:
        await client.aclose()
        thread.join(5.0)
        listener.close()


async def test_https_and_streamed_bodies_go_to_the_fallback() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(
            f"{request.method} {request.url.scheme} {request.headers.get('transfer-encoding')}"
        )
        return httpx.Response(204)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"{}"

    transport = PlainHttpTransport(httpx.MockTransport(record), httpx.Limits())
    async with httpx.AsyncClient(transport=transport) as client:
        await client.post("https://robot.example/send", content=b"{}")
        await client.post("http://relay.example/push", content=chunks())
        await client.head("http://relay.example/push")
    assert seen == ["POST https None", "POST http chunked", "HEAD http None"]
    assert transport.connections() == 0


@pytest.mark.parametrize(
    "headers",
    [{"webhook-id": "msg_1\r\nx-evil: 1"}, {"x-evil\r\nx": "1"}, {"x-a": "a\nb"}],
    ids=["CRLF in a value", "CRLF in a name", "LF in a value"],
)
async def test_an_injected_header_is_refused_as_h11_refuses_it(headers: dict[str, str]) -> None:
    seen: list[bytes] = []
    server, base = await serve(answering(OK, seen=seen))
    client = make_client()
    fallback = httpx.AsyncClient(transport=client._transport.fallback)  # type: ignore[attr-defined]
    try:
        for sender in (client, fallback):
            with pytest.raises(httpx.LocalProtocolError):
                await sender.post(base + "/i", content=b"{}", headers=headers)
    finally:
        await client.aclose()
        server.close()
    assert seen == []


async def test_pushes_keep_no_cookies() -> None:
    """A push endpoint is stateless: what it sets is not kept, so never sent back."""
    setting = b"HTTP/1.1 200 OK\r\nset-cookie: sid=abc; Path=/\r\ncontent-length: 2\r\n\r\nok"
    seen: list[bytes] = []
    server, base = await serve(answering(setting, OK, seen=seen))
    client = make_client()
    try:
        assert (await client.post(base + "/c", content=b"{}")).headers["set-cookie"]
        await client.post(base + "/c", content=b"{}")
        assert not client.cookies
    finally:
        await client.aclose()
        server.close()
    assert [b"cookie:" in request.lower() for request in seen] == [False, False]


async def test_an_informational_answer_is_skipped_as_httpcore_skips_it() -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"
    server, base = await serve(answering(hints + OK, OK))
    client = make_client()
    try:
        first = await client.post(base + "/e", content=b"{}")
        second = await client.post(base + "/e", content=b"{}")  # the same connection
    finally:
        await client.aclose()
        server.close()
    assert (first.status_code, first.text, "link" in first.headers) == (200, "ok", False)
    assert second.status_code == 200


def test_on_uvloop_as_the_api_runs_it() -> None:
    """The API (uvicorn on uvloop) sends its group replies with this client: uvloop's
    transports are no asyncio.Transport subclass. Kept alive, a close while idle noticed,
    the same answers."""
    import uvloop

    async def main() -> None:
        server, base = await serve(answering(OK, OK))  # then closes: a new connection
        client = make_client()
        try:
            texts = [(await client.post(base + "/u", content=b"{}")).text for _ in range(2)]
            assert _plain(client).connections() == 1
            await asyncio.sleep(0.05)  # the server's close arrives
            texts.append((await client.post(base + "/u", content=b"{}")).text)
            assert _plain(client).origins[("127.0.0.1", _port(base))].opened == 2
        finally:
            await client.aclose()
            server.close()
        assert texts == ["ok"] * 3

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _plain(client: httpx.AsyncClient) -> PlainHttpTransport:
    transport = client._transport  # type: ignore[attr-defined]
    assert isinstance(transport, PlainHttpTransport)
    return transport


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


@pytest.mark.parametrize("version", [b"1.0", b"1.1"])
async def test_an_answer_without_length_ends_where_the_connection_does(version: bytes) -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/" + version + b" 200 OK\r\ncontent-type: text/plain\r\n\r\nhel")
        await writer.drain()
        writer.write(b"lo")
        writer.close()

    server, base = await serve(until_close)
    client = make_client()
    fallback = httpx.AsyncClient(transport=_plain(client).fallback)
    try:
        answers = [await sender.post(base + "/0", content=b"{}") for sender in (client, fallback)]
    finally:
        await client.aclose()
        server.close()
    assert [(a.status_code, a.text) for a in answers] == [(200, "hello")] * 2
