"""Attack: a community's staff configure an endpoint by a *name* (accepted: the write path
judges only addresses), and the name resolves to an address inside the deployment — the
worker's own port, a database on the LAN, the cloud's metadata address (DNS rebinding).
The push client (pushes and group replies) must refuse to connect, on both of its
transports, and reach the same server when the deployment lists the name as private.

The resolver is the event loop's `getaddrinfo`, answered here for the attacker's name (no
DNS server on this machine); the server it points at is a real local HTTP server, which
must see no request.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dispatcher.config.outbound import internal_host
from dispatcher.push.egress import EgressPolicy, EgressRefused
from dispatcher.push.http import make_client
from tests.support.raw_http import answering, serve

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
NAME = "relay.attacker.example"


@pytest.fixture
async def rebinding(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    """The running loop resolves each name in the returned dict to its address."""
    answers: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[name], int(port)))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    yield answers


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[bytes]]]:
    seen: list[bytes] = []
    srv, base = await serve(answering(lambda request: OK, seen))
    yield int(base.rsplit(":", 1)[1]), seen
    srv.close()


def test_the_write_path_accepts_the_name() -> None:
    """Why the connect-time check is needed: the name passes when it is configured."""
    assert not internal_host(f"http://{NAME}/hook")


async def _post(client: httpx.AsyncClient, url: str, *, fallback: bool) -> httpx.Response:
    if fallback:  # httpx's own transport (https, and what the plain one does not take)
        sender = httpx.AsyncClient(transport=client._transport.fallback)  # type: ignore[attr-defined]
        return await sender.post(url, content=b"{}")
    return await client.post(url, content=b"{}")


@pytest.mark.parametrize("fallback", [False, True], ids=["plain-http", "httpx-transport"])
@pytest.mark.parametrize("inside", ["127.0.0.1", "169.254.169.254", "10.1.2.3"])
async def test_a_name_resolving_inside_is_refused(
    rebinding: dict[str, str], server: tuple[int, list[bytes]], fallback: bool, inside: str
) -> None:
    port, seen = server
    rebinding[NAME] = inside
    client = make_client()
    try:
        with pytest.raises(httpx.ConnectError, match="resolves to an address inside"):
            await _post(client, f"http://{NAME}:{port}/hook", fallback=fallback)
    finally:
        await client.aclose()
    assert seen == []


@pytest.mark.parametrize("fallback", [False, True], ids=["plain-http", "httpx-transport"])
async def test_a_name_the_deployment_lists_as_private_is_reached(
    rebinding: dict[str, str], server: tuple[int, list[bytes]], fallback: bool
) -> None:
    port, seen = server
    rebinding[NAME] = "127.0.0.1"
    client = make_client(egress=EgressPolicy([NAME.upper() + "."]))  # as written: any case
    try:
        response = await _post(client, f"http://{NAME}:{port}/hook", fallback=fallback)
    finally:
        await client.aclose()
    assert response.text == "ok" and len(seen) == 1
    assert f"host: {NAME}:{port}".encode() in seen[0].lower()


async def test_addresses_written_as_such_are_not_resolved_again(
    server: tuple[int, list[bytes]],
) -> None:
    """A literal address was judged where it was configured (district staff may name one):
    the client connects to it as before."""
    port, seen = server
    client = make_client()
    try:
        assert (await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")).text == "ok"
    finally:
        await client.aclose()
    assert len(seen) == 1


async def test_public_answers_pass_and_any_inside_answer_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every address a name resolves to must be public: one inside among public ones is
    enough to refuse (the connection would try them in turn)."""
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        public = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))
        inside = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", port, 0, 0))
        return [public] if host == "public.example" else [public, inside]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    policy = EgressPolicy()
    assert await policy.addresses("public.example", 443) == ["93.184.216.34"]
    with pytest.raises(EgressRefused):
        await policy.addresses("mixed.example", 443)
