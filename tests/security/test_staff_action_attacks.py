"""Attacks on the dashboard's actions: a community's staff acting on another community's
request, a cross-site request riding the dashboard's session cookie (no token, a wrong
token, another origin), and unauthenticated or revoked callers. Each is refused before
anything reaches Kafka or the audit table."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.staff import DISTRICT, bearer, recorded_request, status_of, write_staff_file
from tests.support.waiting import eventually

A, B = "sx-a", "sx-b"
LI = secrets.token_urlsafe(32)  # staff of A only


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    write_staff_file(stack, {"li": (LI, [A])})
    await stack.start_api()
    yield stack


async def _nothing_written(db: asyncpg.Connection, rid: str) -> None:
    assert await db.fetchval("SELECT count(*) FROM staff_actions WHERE request_id = $1", rid) == 0


async def test_a_community_s_staff_cannot_act_on_another_community(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    theirs = await recorded_request(client, B)
    for action, body in (
        ("claim", {}),
        ("refer", {"to": "110"}),
        ("resolve", {}),
        ("cancel", {}),
        ("call-team", {"team_id": "帮帮团"}),
    ):
        r = await client.post(f"/ops/v1/requests/{theirs}/{action}", json=body, headers=bearer(LI))
        assert r.status_code == 403, (action, r.text)
    await _nothing_written(db, theirs)
    # Their dashboard shows only their community.
    ov = (await client.get("/ops/v1/overview", headers=bearer(LI))).json()
    assert theirs not in {r["request_id"] for r in ov["open"]}
    assert {c["community_id"] for c in ov["communities"]} <= {A}
    # Nobody, a made-up token: 401.
    assert (await client.post(f"/ops/v1/requests/{theirs}/claim")).status_code == 401
    forged = bearer(secrets.token_urlsafe(32))
    assert (
        await client.post(f"/ops/v1/requests/{theirs}/claim", headers=forged)
    ).status_code == 401
    assert (await status_of(client, theirs))["status"] == "open"


async def test_the_cookie_session_needs_its_csrf_token(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as browser:
        rid = await recorded_request(browser, A)
        assert (await browser.post("/dashboard/login", data={"token": LI})).status_code == 303
        url = f"/ops/v1/requests/{rid}/cancel"
        # Calling a team rides the same session and is refused the same way.
        call = f"/ops/v1/requests/{rid}/call-team"
        assert (await browser.post(call, json={"team_id": "帮帮团"})).status_code == 403
        # A cross-site form or fetch carries the cookie (were it not SameSite) but cannot
        # read the token: refused without it, with a wrong one, and from another origin.
        assert (await browser.post(url, json={})).status_code == 403
        wrong = {"X-CSRF-Token": secrets.token_hex(32)}
        assert (await browser.post(url, json={}, headers=wrong)).status_code == 403
        token = (await browser.get("/ops/v1/session")).json()["csrf"]
        assert token
        evil = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
        assert (await browser.post(url, json={}, headers=evil)).status_code == 403
        await _nothing_written(db, rid)
        # Another account's session token is no good either.
        async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as other:
            await other.post("/dashboard/login", data={"token": DISTRICT})
            theirs = (await other.get("/ops/v1/session")).json()["csrf"]
        assert theirs != token
        r = await browser.post(url, json={}, headers={"X-CSRF-Token": theirs})
        assert r.status_code == 403
        await _nothing_written(db, rid)
        # The page's own request, with its token and origin, goes through.
        mine = {"X-CSRF-Token": token, "Origin": api.api_url}
        r = await browser.post(url, json={}, headers=mine)
        assert r.status_code == 202, r.text
        row = await db.fetchrow("SELECT actor, via FROM staff_actions WHERE request_id = $1", rid)
        assert (row["actor"], row["via"]) == ("li", "dashboard")

    async def cancelled() -> bool:
        async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as c:
            return (await status_of(c, rid))["status"] == "cancelled"

    await eventually(cancelled, what="the cancel applied")


async def _frames_until(client: httpx.AsyncClient, token: str, stop: str, seen: list[str]) -> None:
    """Read the SSE stream's data lines into `seen` until one contains `stop`."""
    async with client.stream("GET", "/ops/v1/stream", headers=bearer(token)) as resp:
        assert resp.status_code == 200
        async for line in resp.aiter_lines():
            if line.startswith("data:"):
                seen.append(line)
                if stop in line:
                    return


async def test_the_live_feed_shows_a_community_s_staff_only_their_community(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    # District staff watch first (the feed starts at the topic's end); B's request is
    # published before A's, so a feed that leaked B would show it before A's.
    district: list[str] = []
    async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as watcher:
        watching = asyncio.create_task(_frames_until(watcher, DISTRICT, "never", district))
        await eventually(
            lambda: asyncio.sleep(0, any('"live":true' in f for f in district)),
            what="the district feed live",
        )
        theirs = await recorded_request(client, B)
        await eventually(
            lambda: asyncio.sleep(0, any(theirs in f for f in district)), what="B's event seen"
        )
        mine = await recorded_request(client, A)
        await eventually(
            lambda: asyncio.sleep(0, any(mine in f for f in district)), what="A's event seen"
        )
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as li:
        await asyncio.wait_for(_frames_until(li, LI, mine, seen), timeout=60)
    assert any(mine in f for f in seen)
    assert not any(theirs in f or f'"{B}"' in f for f in seen), seen
