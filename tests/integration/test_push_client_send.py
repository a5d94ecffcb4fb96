"""The push client's own `send` (dispatcher/push/http.py `_PushClient.send`) on real local
sockets: the same answers as httpx's `AsyncClient.send`, none of its reference cycles, and
httpx's `send` itself for every use the push client does not make.

It relies on httpx internals (`httpx._client.USE_CLIENT_DEFAULT` and `ClientState`,
`AsyncClient._set_timeout`, `AsyncClient._transport_for_url`, the `_state` attribute): an
httpx upgrade that moves them fails these tests rather than the pushes."""

from __future__ import annotations

import asyncio
import gc
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from dispatcher.push.http import make_client
from tests.support.raw_http import answering, read_request, serve

OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"errcode":0}'
ZIPPED = gzip.compress(b'{"errcode":0}')
GZIP = (
    b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n"
    + b"%x\r\n" % len(ZIPPED)
    + ZIPPED
    + b"\r\n0\r\n\r\n"
)
REDIRECT = b"HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n"


def by_path(request: bytes) -> bytes:
    path = request.split(b" ", 2)[1]
    return {b"/gzip": GZIP, b"/redirect": REDIRECT}.get(path, OK)


@pytest.fixture
async def base() -> AsyncIterator[str]:
    server, url = await serve(answering(by_path))
    try:
        yield url
    finally:
        server.close()


def post(client: httpx.AsyncClient, url: str) -> httpx.Request:
    return client.build_request("POST", url, content=b'{"a":1}', headers={"x-k": "v"})


@pytest.mark.parametrize("path", ["/ok", "/gzip", "/redirect"])
async def test_the_same_answer_as_httpx_send(base: str, path: str) -> None:
    client = make_client()
    try:
        ours_request = post(client, base + path)
        ours = await client.send(ours_request)
        theirs = await httpx.AsyncClient.send(client, post(client, base + path))
    finally:
        await client.aclose()
    for r in (ours, theirs):
        assert r.is_closed and r.elapsed.total_seconds() >= 0
    assert ours.status_code == theirs.status_code  # a redirect is answered, not followed
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.content == theirs.content  # decoded (gzip) alike
    assert (ours.http_version, ours.reason_phrase) == (theirs.http_version, theirs.reason_phrase)
    assert ours.request is ours_request
    assert ours.request.extensions["timeout"] == theirs.request.extensions["timeout"]


async def _cyclic_garbage(send: Callable[[], Awaitable[httpx.Response]], times: int) -> int:
    await send()  # the connection opened (and kept) before counting
    gc.collect()
    gc.disable()
    try:
        for _ in range(times):
            await send()
        return gc.collect()
    finally:
        gc.enable()


async def test_a_post_leaves_no_cyclic_garbage(base: str) -> None:
    """httpx's `send` wraps each answer's stream in a timer that refers back to the answer:
    ~23 objects per POST only the cyclic collector frees (the worker's collector pauses).
    The push client's `send` leaves none; the local server's side of the same sends shows
    what a POST costs without it."""
    client = make_client()
    try:
        ours = await _cyclic_garbage(lambda: client.send(post(client, base + "/ok")), 50)
        theirs = await _cyclic_garbage(
            lambda: httpx.AsyncClient.send(client, post(client, base + "/ok")), 50
        )
    finally:
        await client.aclose()
    assert theirs >= 50 * 10  # the cycle this send avoids is there in httpx's
    assert ours < 50  # not one object per POST


async def test_other_uses_take_httpx_send(base: str) -> None:
    seen: list[str] = []

    async def hook(response: httpx.Response) -> None:
        seen.append(response.request.url.path)

    client = make_client()
    try:
        followed = await client.send(post(client, base + "/redirect"), follow_redirects=True)
        streamed = await client.send(post(client, base + "/ok"), stream=True)
        assert not streamed.is_closed  # not read: the caller streams it
        await streamed.aclose()
        client.event_hooks = {"request": [], "response": [hook]}
        await client.send(post(client, base + "/ok"))
    finally:
        await client.aclose()
    assert followed.status_code == 200 and followed.request.url.path == "/elsewhere"
    assert [r.status_code for r in followed.history] == [302]
    assert seen == ["/ok"]


async def test_a_timeout_carries_its_request_and_a_closed_client_refuses() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    server, base = await serve(silent)
    url = base + "/slow"
    client = make_client(timeout=0.2)
    try:
        request = post(client, url)
        with pytest.raises(httpx.ReadTimeout) as caught:
            await client.send(request)
        assert caught.value.request is request
    finally:
        await client.aclose()
        server.close()
    with pytest.raises(RuntimeError, match="closed"):
        await client.send(post(client, url))
