"""Staff release a helper who is not coming from the dashboard, in a real headless Chromium:
select the request's row, the helper who holds it is listed with "未到场，重新派单"; pressing
it (the session cookie and its anti-CSRF token) releases them: the list empties, the row
shows 0/1 again through the stream, and the other neighbour is offered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.e2e.cdp import Browser, chromium_binary
from tests.e2e.dashboard_page import helper_item, no_show_listed, press_no_show, row, sign_in
from tests.support import builders
from tests.support.private_phones import phones_and_robot, pushes
from tests.support.waiting import eventually

COMMUNITY = "e2e-no-show"
STAFF = {"Authorization": "Bearer dev-staff-token"}
HELPERS = ("e-ns1", "e-ns2")  # both in the request's building


@pytest.fixture
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_and_robot(stack) as receiver:
        yield receiver


def offers_of(phones: PushReceiver, rid: str, helper_id: str) -> list[dict[str, Any]]:
    return [o for o in pushes(phones, "offer", helper_id) if o["request_id"] == rid]


async def test_staff_release_a_no_show_from_the_dashboard(
    stack: LocalStack, phones: PushReceiver, tmp_path: Path
) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (the e2e suite needs it)")
    browser = Browser(tmp_path / "profile")
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
            for hid in HELPERS:
                body = builders.helper(hid, COMMUNITY, ["driving"], channels=["phones"])
                r = await api.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
                assert r.status_code == 202, r.text
            await browser.start(binary)
            await sign_in(browser, stack.api_url, "dev-staff-token")
            # Normal: its building rung asks one neighbour and waits 30 minutes.
            request = builders.request(COMMUNITY, source=None, urgency="normal")
            r = await api.post("/v1/requests", json=request, headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]
            await phones.wait_for(
                lambda: any(offers_of(phones, rid, h) for h in HELPERS), timeout=60
            )
            gone, other = HELPERS if offers_of(phones, rid, HELPERS[0]) else HELPERS[::-1]
            accept = urlparse(offers_of(phones, rid, gone)[0]["accept_url"]).path
            assert (await api.post(accept)).status_code == 200

            async def covered() -> bool:
                helpers = await browser.evaluate(
                    f"{row(rid)}?.querySelector('td:nth-child(6)')?.textContent"
                )
                return bool(helpers == "1/1")

            await eventually(covered, timeout=60, what="the row showing 1/1")
            await browser.evaluate(f"{row(rid)}.click(); true")  # select the row
            item = helper_item(gone)
            assert await no_show_listed(browser, gone) == "未到场，重新派单"
            await browser.screenshot(tmp_path / "dashboard-no-show-listed.png")
            assert await press_no_show(browser, gone) == "sent"

            async def released() -> bool:
                return bool(
                    await browser.evaluate(
                        f"!{item} && {row(rid)}?.querySelector('td:nth-child(6)')"
                        "?.textContent === '0/1'"
                    )
                )

            await eventually(released, timeout=60, what="the helper gone from the list, 0/1")
            await phones.wait_for(lambda: bool(offers_of(phones, rid, other)), timeout=60)
            await browser.screenshot(tmp_path / "dashboard-no-show.png")
    finally:
        await browser.close()
