"""Login CSRF on the dashboard (session 38's audit): a page on another site auto-submits a
form to `POST /dashboard/login` with its own staff account's token. The browser stores the
SameSite=Strict cookie that answer sets (a top-level navigation), so a community's wall
screen would silently switch to the attacker's account: it then shows that account's scope
(no requests for the real community) and the screen's actions are recorded under it.

Against the real API and PostgreSQL: the cross-site sign-in (and sign-out) is refused with
no cookie set, the screen stays signed in as its own account, the page's own sign-in still
works and is a `staff_audit` row, and the page's sign-out ends the session in this browser."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.staff import write_staff_file

A, B = "lc-a", "lc-b"
LI = secrets.token_urlsafe(32)  # the screen's account: staff of A
MALLORY = secrets.token_urlsafe(32)  # a real account, of B, used by the attacking page

# What a browser sends with a form another site's page submitted.
CROSS_SITE = (
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},  # a browser without Fetch Metadata
    {"Sec-Fetch-Site": "cross-site"},  # one that withholds Origin (e.g. a privacy setting)
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # from a sandboxed frame
    {"Origin": "null"},  # the same, from a browser without Fetch Metadata
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-site"},  # a sibling host
)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    write_staff_file(stack, {"li": (LI, [A]), "mallory": (MALLORY, [B])})
    await stack.start_api()
    yield stack


def _same_origin(api: LocalStack) -> dict[str, str]:
    return {"Origin": api.api_url, "Sec-Fetch-Site": "same-origin"}


async def _signed_in_as(browser: httpx.AsyncClient) -> str | None:
    r = await browser.get("/ops/v1/session")
    if r.status_code == 401:
        return None
    assert r.status_code == 200, r.text
    name: str = r.json()["staff"]
    return name


async def test_a_cross_site_sign_in_cannot_switch_the_screen_s_account(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as browser:
        r = await browser.post("/dashboard/login", data={"token": LI}, headers=_same_origin(api))
        assert r.status_code == 303, r.text
        assert await _signed_in_as(browser) == "li"
        before = await db.fetchval("SELECT count(*) FROM staff_audit WHERE staff = 'mallory'")
        for headers in CROSS_SITE:
            r = await browser.post("/dashboard/login", data={"token": MALLORY}, headers=headers)
            assert r.status_code == 403, (headers, r.status_code, r.text)
            assert r.json()["detail"]["reason"] == "cross_site", r.text
            assert "set-cookie" not in r.headers, headers
            assert await _signed_in_as(browser) == "li", headers
        # Refused before the token was even looked at: nothing done as mallory.
        after = await db.fetchval("SELECT count(*) FROM staff_audit WHERE staff = 'mallory'")
        assert after == before
        # Nor can another site sign the screen out.
        for headers in CROSS_SITE:
            r = await browser.post("/dashboard/logout", headers=headers)
            assert r.status_code == 403 and "set-cookie" not in r.headers, (headers, r.text)
        assert await _signed_in_as(browser) == "li"


async def test_the_page_s_own_sign_in_works_and_is_audited(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    start = await db.fetchval("SELECT now()")
    # The form as browsers send it from the page itself (`Origin: null` under a
    # `Referrer-Policy: no-referrer` a proxy may add), and as a client with neither header.
    page_s_own = (
        _same_origin(api),
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin"},
        {},
    )
    for headers in page_s_own:
        async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as browser:
            r = await browser.post("/dashboard/login", data={"token": LI}, headers=headers)
            assert r.status_code == 303, (headers, r.text)
            assert r.headers["location"] == "/dashboard"
            assert "httponly" in r.headers["set-cookie"].lower()
            assert await _signed_in_as(browser) == "li"
    rows = await db.fetch(
        "SELECT method, route, community_id FROM staff_audit"
        " WHERE staff = 'li' AND route = '/dashboard/login' AND at >= $1",
        start,
    )
    assert [tuple(r) for r in rows] == [("POST", "/dashboard/login", None)] * len(page_s_own)
    # A wrong token is no session, and no audit row (the throttle counts it).
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as browser:
        r = await browser.post(
            "/dashboard/login", data={"token": "wrong"}, headers=_same_origin(api)
        )
        assert r.status_code == 401 and "set-cookie" not in r.headers


async def test_the_page_s_sign_out_ends_its_session(api: LocalStack) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as browser:
        headers = _same_origin(api)
        assert (
            await browser.post("/dashboard/login", data={"token": LI}, headers=headers)
        ).status_code == 303
        assert await _signed_in_as(browser) == "li"
        r = await browser.post("/dashboard/logout", headers=headers)
        assert r.status_code == 303 and r.headers["location"] == "/dashboard"
        assert 'dispatch_staff=""' in r.headers["set-cookie"] and "max-age=0" in (
            r.headers["set-cookie"].lower()
        )
        assert await _signed_in_as(browser) is None
        assert "Staff token" in (await browser.get("/dashboard")).text  # the sign-in form
        # Signing out signed out is harmless.
        assert (await browser.post("/dashboard/logout", headers=headers)).status_code == 303
