"""The dashboard in a real headless Chromium, signed in as a community's staff (session 38's
audit): the header names the account and its scope, the stream-health charts (district-wide
staff only) are not polled on and on, and the header's sign-out ends the session.

Before: the page polled /ops/v1/health every 2 s for as long as it was open, each poll
refused (403) and written to `staff_audit` (about 43,200 rows a screen a day), and nothing
on the page said which account it was signed in as."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from dispatcher.testing.stack import LocalStack
from tests.e2e.cdp import Browser, chromium_binary
from tests.e2e.dashboard_page import sign_in
from tests.support.staff import write_staff_file
from tests.support.waiting import eventually

COMMUNITY = "e2e-acct"
LI = "li-token-e2e-acct-s38"
# Snapshot polls (every 5 s) the test waits for: the health poll (every 2 s before the
# fix) would have run at least 4 times more in them.
OVERVIEW_POLLS = 3


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    write_staff_file(stack, {"li": (LI, [COMMUNITY])})
    await stack.start_api()
    yield stack


async def _audited(db: asyncpg.Connection, route: str) -> int:
    n: int = await db.fetchval(
        "SELECT count(*) FROM staff_audit WHERE staff = 'li' AND route = $1", route
    )
    return n


async def test_a_community_s_screen_names_its_account_and_stops_the_health_poll(
    api: LocalStack, tmp_path: Path
) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (the e2e suite needs it)")
    browser = Browser(tmp_path / "profile")
    db = await asyncpg.connect(api.pg_dsn)
    try:
        await browser.start(binary)
        await sign_in(browser, api.api_url, LI)

        async def named() -> str | None:
            got: str | None = await browser.evaluate(
                "document.querySelector('#who-name')?.textContent"
            )
            return got if got and got != "–" else None

        assert await eventually(named, timeout=30, what="the account in the header") == "li"
        scope = await browser.evaluate("document.querySelector('#who-scope').textContent")
        assert scope == f"({COMMUNITY})"
        assert await browser.evaluate("document.querySelector('#health').hidden") is True

        # The page's own clock: let its 5-second snapshot poll run OVERVIEW_POLLS more times.
        seen = await _audited(db, "/ops/v1/overview")

        async def polled_on() -> bool:
            return await _audited(db, "/ops/v1/overview") >= seen + OVERVIEW_POLLS

        await eventually(polled_on, timeout=60, what=f"{OVERVIEW_POLLS} more snapshot polls")
        # At most the first, refused, health request: not one every 2 s.
        assert await _audited(db, "/ops/v1/health") <= 1

        # Sign out from the header: back to the sign-in form, and the session is gone.
        await browser.evaluate_while_navigating(
            "document.querySelector('#sign-out button').click(); true"
        )

        async def signed_out() -> bool:
            return bool(
                await browser.evaluate_while_navigating(
                    "location.pathname === '/dashboard' && !!document.querySelector('#token')"
                )
            )

        await eventually(signed_out, timeout=30, what="the sign-in form after signing out")
        status = await browser.evaluate(
            "fetch('/ops/v1/session', {credentials: 'same-origin'}).then((r) => r.status)"
        )
        assert status == 401
    finally:
        await browser.close()
        await db.close()
