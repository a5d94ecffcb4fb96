"""Driving the dashboard page in the test browser: sign in through the form, wait for the
live feed, read a request's row."""

from __future__ import annotations

import json

from tests.e2e.cdp import Browser
from tests.support.waiting import eventually


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
