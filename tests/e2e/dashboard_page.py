"""Driving the dashboard page in the test browser: sign in through the form, wait for the
live feed, read a request's row."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dispatcher.testing.stack import LocalStack
from tests.e2e.cdp import Browser, chromium_binary
from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def signed_in(
    stack: LocalStack, tmp_path: Path, token: str = "dev-staff-token", *, start_api: bool = True
) -> AsyncIterator[Browser]:
    """The stack's API started (unless `start_api` is False: a fixture started it), a
    headless Chromium on its dashboard, signed in with `token`, the live feed connected;
    closed after."""
    binary = chromium_binary()
    if binary is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (the e2e suite needs it)")
    if start_api:
        await stack.start_api()
    browser = Browser(tmp_path / "profile")
    try:
        await browser.start(binary)
        await sign_in(browser, stack.api_url, token)
        yield browser
    finally:
        await browser.close()


async def sign_in(browser: Browser, api_url: str, token: str) -> None:
    """Through the POSTed form (never a token in the URL); the server answers with an
    HttpOnly session cookie. Returns once the live feed is connected."""
    await browser.navigate(f"{api_url}/dashboard")

    async def sign_in_form() -> bool:
        return bool(await browser.evaluate_while_navigating("!!document.querySelector('#token')"))

    await eventually(sign_in_form, timeout=30, what="the sign-in form")
    await browser.evaluate_while_navigating(
        f"document.querySelector('#token').value = {json.dumps(token)};"
        " document.querySelector('form').submit(); true",
    )

    async def live() -> bool:
        # The submit navigates (POST, 303, GET /dashboard): a poll can land mid-navigation.
        state = await browser.evaluate_while_navigating(
            "location.pathname === '/dashboard' && !location.search"
            " && document.querySelector('#live')?.dataset.state",
        )
        return state == "live"

    await eventually(live, timeout=60, what="the dashboard's live feed connected")


def row(request_id: str) -> str:
    return f"document.querySelector('tr[data-request-id={json.dumps(request_id)}]')"


async def row_status(browser: Browser, request_id: str) -> str | None:
    result: str | None = await browser.evaluate(f"{row(request_id)}?.dataset.status")
    return result


def helper_item(helper_id: str) -> str:
    """The selected request's holder `helper_id` in the 未到场 list."""
    return f"document.querySelector('#act-helpers li[data-helper-id={json.dumps(helper_id)}]')"


async def no_show_listed(browser: Browser, helper_id: str) -> str:
    """The 未到场 button's text once the selected request's list shows `helper_id`."""

    async def listed() -> str | None:
        got: str | None = await browser.evaluate(
            f"{helper_item(helper_id)}?.querySelector('button[data-action=no-show]')?.textContent"
        )
        return got

    found: str = await eventually(listed, timeout=60, what=f"{helper_id} listed with 未到场")
    return found


async def press_no_show(browser: Browser, helper_id: str) -> str | None:
    """Press `helper_id`'s 未到场 button: the page's answer ("sent" once it took a 202)."""
    await browser.evaluate(f"{helper_item(helper_id)}.querySelector('button').click(); true")

    async def answered() -> str | None:
        got: str | None = await browser.evaluate(
            "(() => { const o = document.querySelector('#act-result');"
            " return o.dataset.action === 'no-show' ? o.dataset.result : null; })()"
        )
        return got if got != "pending" else None

    result: str | None = await eventually(answered, timeout=60, what="the no-show answer")
    return result
