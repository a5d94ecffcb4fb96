"""Staff act from the dashboard in a real headless Chromium: select a request's row, press
"take on" (接手), "call team" (叫团队) and "resolved" (已解决); the row shows who took it on
and then the status change, through the stream, without a reload. The stream-health charts
are drawn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.e2e.cdp import Browser, chromium_binary
from tests.e2e.dashboard_page import row, row_status, sign_in
from tests.support import builders
from tests.support.waiting import eventually

COMMUNITY = "e2e-actions"
STAFF = {"Authorization": "Bearer dev-staff-token"}


async def test_staff_take_on_and_resolve_from_the_dashboard(
    stack: LocalStack, tmp_path: Path
) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (the e2e suite needs it)")
    worker = stack.start_worker()
    stack.extra_env["DISPATCH_WORKER_WEB_URLS"] = f'["http://127.0.0.1:{worker.web_port}"]'
    await stack.start_api()
    browser = Browser(tmp_path / "profile")
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
            r = await api.put(
                "/v1/admin/helpers/e-a1",
                json=builders.helper("e-a1", COMMUNITY, ["driving"]),
                headers=STAFF,
            )
            assert r.status_code == 202, r.text
            await browser.start(binary)
            await sign_in(browser, stack.api_url, "dev-staff-token")
            await browser.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads
            r = await api.post("/v1/requests", json=builders.request(COMMUNITY), headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]

            async def appeared() -> str | None:
                return await row_status(browser, rid)

            await eventually(appeared, timeout=60, what="the request's row")
            await browser.evaluate(f"{row(rid)}.click(); true")  # select the row
            assert (
                await browser.evaluate("document.querySelector('#act-request').textContent") == rid
            )
            await browser.evaluate("document.querySelector('#act-claim').click(); true")

            async def claimed() -> str | None:
                result: str | None = await browser.evaluate(f"{row(rid)}?.dataset.claimedBy")
                return result

            assert await eventually(claimed, timeout=60, what="the row naming who took it on") == (
                "staff-token"
            )

            # The button's own answer: the API puts the command on Kafka, then records the
            # claim before its 202, while the worker's event can reach the row through the
            # stream first; so the answer may still be pending when the row shows the claim.
            def answer(action: str) -> Callable[[], Awaitable[str | None]]:
                """`#act-result` once the API answered the button of `action`."""

                async def settled() -> str | None:
                    got: str | None = await browser.evaluate(
                        "(() => { const o = document.querySelector('#act-result');"
                        f" return o.dataset.action === '{action}' ? o.dataset.result : null; }})()"
                    )
                    return got if got != "pending" else None

                return settled

            taken = await eventually(answer("claim"), timeout=60, what="the take-on answer")
            assert taken == "sent"
            # Calling a team: the name typed beside the button goes with it (no team here:
            # the API takes it, the core refuses it for want of a leader).
            await browser.evaluate(
                "document.querySelector('#act-team').value = '帮帮团';"
                "document.querySelector('#act-call-team').click(); true"
            )

            called = await eventually(answer("call-team"), timeout=60, what="the call-team answer")
            assert called == "sent"
            await browser.evaluate("document.querySelector('#act-resolve').click(); true")

            async def resolved() -> bool:
                return await row_status(browser, rid) == "resolved"

            await eventually(resolved, timeout=60, what="the row showing the request resolved")
            assert await browser.evaluate("window.__sameDocument") == "yes", "the page reloaded"

            # The row follows the events stream; GET reads PostgreSQL, which the record agent
            # writes after it (a run failed reading it once, still 'open'): wait for it.
            async def recorded() -> dict[str, Any] | None:
                got: dict[str, Any] = (await api.get(f"/v1/requests/{rid}", headers=STAFF)).json()
                return got if got["status"] != "open" else None

            got = await eventually(recorded, timeout=60, what="the resolution recorded")
            assert (got["status"], got["claimed_by"]) == ("resolved", "staff-token")

            # The health charts: lines once two samples exist, lag bars, the worker alive.
            async def charts() -> bool:
                return bool(
                    await browser.evaluate(
                        "!!document.querySelector('#chart-rates polyline')"
                        " && !!document.querySelector('#chart-lag rect')"
                        " && !!document.querySelector('#workers li[data-alive=true]')"
                    )
                )

            await eventually(charts, timeout=60, what="the stream-health charts drawn")
            await browser.screenshot(tmp_path / "dashboard-actions.png")
    finally:
        await browser.close()
