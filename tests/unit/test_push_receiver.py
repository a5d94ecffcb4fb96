"""The push receiver (dispatcher/testing/push_receiver.py, protocol + httptools) over real
sockets: what integration tests and `bench e2e` rely on."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from dispatcher.testing.push_receiver import (
    PushReceiver,
    Received,
    ThreadedPushReceiver,
    hang,
    rate_limited,
    server_error,
)


async def test_records_and_answers_from_the_script() -> None:
    async with PushReceiver() as rx, httpx.AsyncClient(base_url=rx.base_url) as client:
        rx.script("/p", server_error(), rate_limited("7"))
        h = {"webhook-id": "msg_1"}
        a = await client.post("/p?x=1&x=2", content=b'{"a":1}', headers=h)
        b = await client.post("/p", content=b"{}", headers=h)
        c = await client.post("/p", content=b"{}", headers=h)
        d = await client.post("/p", content=b"{}", headers=h)
        assert [a.status_code, b.status_code, c.status_code, d.status_code] == [500, 429, 200, 200]
        assert b.headers["retry-after"] == "7"
        first = rx.received[0]
        assert (first.method, first.path, first.query) == ("POST", "/p", {"x": ["1", "2"]})
        assert first.json() == {"a": 1}
        assert first.webhook_id == "msg_1"
        assert [r.status for r in rx.for_path("/p")] == [500, 429, 200, 200]
        assert rx.unique_ids() == {"msg_1"}
        assert rx.duplicates == 1  # answered 2xx twice
        assert rx.count == 4


async def test_pipelined_requests_are_answered_in_order_behind_a_hang() -> None:
    async with PushReceiver() as rx:
        rx.script("/slow", hang(0.1))
        reader, writer = await asyncio.open_connection(rx.host, rx.port)
        one = "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
        writer.write((one.format("/slow") + one.format("/fast")).encode())
        await writer.drain()
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 2:
            answers += await asyncio.wait_for(reader.read(4096), 5)
        assert [r.path for r in rx.received] == ["/slow", "/fast"]
        assert rx.received[1].at - rx.received[0].at >= 0.09  # read after the slow answer
        writer.close()


async def test_hold_counts_in_flight_and_connection_close() -> None:
    async with PushReceiver() as rx, httpx.AsyncClient(base_url=rx.base_url) as client:
        rx.hold("/h")
        sends = [asyncio.create_task(client.post("/h", content=b"{}")) for _ in range(3)]
        await rx.wait_for(lambda: rx.in_flight("/h") == 3)
        rx.let_go("/h")
        assert [r.status_code for r in await asyncio.gather(*sends)] == [200] * 3
        assert (rx.in_flight("/h"), rx.peak("/h")) == (0, 3)
        r = await client.post("/c", content=b"{}", headers={"connection": "close"})
        assert r.status_code == 200


async def test_stop_ends_held_requests() -> None:
    rx = await PushReceiver().start()
    rx.hold("/h")
    client = httpx.AsyncClient(base_url=rx.base_url)
    send = asyncio.create_task(client.post("/h", content=b"{}"))
    await rx.wait_for(lambda: rx.in_flight("/h") == 1)
    await rx.stop()
    assert rx.in_flight("/h") == 0
    assert rx.unique_ids() == set()
    with contextlib.suppress(httpx.HTTPError):  # the connection was dropped: no answer
        await asyncio.wait_for(send, 5)
    await client.aclose()


def test_threaded_receiver_without_recording() -> None:
    seen: list[Received] = []
    with ThreadedPushReceiver() as rx:
        rx.record = False
        rx.on_request = seen.append
        with httpx.Client(base_url=rx.base_url) as client:
            for _ in range(3):
                assert client.post("/push", content=b'{"type":"push.offer"}').status_code == 200
    assert [r.path for r in seen] == ["/push"] * 3
    assert rx.received == [] and rx.count == 3


async def test_a_held_request_whose_client_left_still_ends_at_stop() -> None:
    rx = await PushReceiver().start()
    rx.hold("/h")
    _, writer = await asyncio.open_connection(rx.host, rx.port)
    writer.write(b"POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    await rx.wait_for(lambda: rx.in_flight("/h") == 1)
    writer.close()  # the sender gave up: the request stays in flight, as before
    await asyncio.sleep(0.05)
    assert rx.in_flight("/h") == 1
    await rx.stop()
    assert rx.in_flight("/h") == 0
    assert rx._connections == set()
