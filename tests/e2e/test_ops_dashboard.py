"""The live dashboard in a real headless Chromium: a request submitted through the API
appears and changes state on the open page, without a reload.

Needs Debian's Chromium: `apt-get install -y chromium` (see deploy/README.md).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack
from schemas.catalogue import entry
from schemas.commands import AcceptOffer, CommandBody, ResolveRequest
from schemas.vocab import Category, Party
from tests.e2e.cdp import Browser, chromium_binary
from tests.e2e.dashboard_page import row_status, sign_in
from tests.support import builders
from tests.support.kafka import CommandProducer
from tests.support.local_day import one_local_day
from tests.support.waiting import eventually

COMMUNITY = "e2e-siming"
STAFF = {"Authorization": "Bearer dev-staff-token"}
# From the request's opening to the community's row read (each wait at most 60 s).
DAY_SPAN_S = 300


async def test_dashboard_shows_a_request_live(stack: LocalStack, tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (the e2e suite needs it)")
    stack.start_worker()
    await stack.start_api()
    browser = Browser(tmp_path / "profile")
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
            r = await api.put(
                "/v1/admin/helpers/e-d1",
                json=builders.helper("e-d1", COMMUNITY, ["driving"]),
                headers=STAFF,
            )
            assert r.status_code == 202, r.text
            await browser.start(binary)
            await sign_in(browser, stack.api_url, "dev-staff-token")
            await browser.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads

            # The community's row is "today's": once resolved, a request opened before a
            # local midnight leaves it (dispatcher/record/read/dashboard.py, TODAY_SQL).
            await one_local_day(DAY_SPAN_S)
            r = await api.post("/v1/requests", json=builders.request(COMMUNITY), headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]

            async def appeared() -> str | None:
                return await row_status(browser, rid)

            first = await eventually(appeared, timeout=60, what="the request's row on the page")
            assert first in {"open", "offered"}

            # The opening also arrives through server-sent events (the row may come first,
            # from the JSON snapshot polled every 5 s).
            async def opened_live() -> bool:
                return bool(
                    await browser.evaluate(
                        f"!!document.querySelector('#events li[data-request-id={json.dumps(rid)}]"
                        "[data-type=request_opened]')"
                    )
                )

            await eventually(opened_live, timeout=60, what="the opening in the live events")

            offer_id = await eventually(
                lambda: conn.fetchval("SELECT offer_id FROM offers WHERE request_id = $1", rid),
                what="the offer recorded",
            )
            commands = CommandProducer(stack.kafka_bootstrap, f"{stack.ns}.commands")
            async with commands:
                body: CommandBody = AcceptOffer(request_id=rid, offer_id=offer_id, helper_id="e-d1")
                await commands.send(body, COMMUNITY)

                async def assigned() -> bool:
                    return await row_status(browser, rid) == "assigned"

                await eventually(assigned, timeout=60, what="the row showing the helper assigned")
                await browser.screenshot(tmp_path / "dashboard-assigned.png")
                await commands.send(
                    ResolveRequest(request_id=rid, by=Party.HELPER, helper_id="e-d1"), COMMUNITY
                )

                async def resolved() -> bool:
                    return await row_status(browser, rid) == "resolved"

                await eventually(resolved, timeout=60, what="the row showing the request resolved")

            assert await browser.evaluate("window.__sameDocument") == "yes", "the page reloaded"
            # Numbers filled in from the JSON snapshot, and nothing personal on the page.
            text = await browser.evaluate("document.body.innerText")
            # The address's private part, not the bare "501", which a request id, a time or a
            # latency on the page can contain by chance (as in test_ops_metrics).
            for secret in ("13912345678", "王女士", "2单元501", "身体不舒服"):
                assert secret not in text
            community_row = f"#communities tr[data-community={json.dumps(COMMUNITY)}]"
            await eventually(
                lambda: browser.evaluate(f"document.querySelector('{community_row}') !== null"),
                what="the community's row",
            )
            # The category's label comes from the catalogue (schemas/catalogue.py) with
            # the snapshot, in both languages.
            category_cell = (
                f"document.querySelector('tr[data-request-id={json.dumps(rid)}]')"
                ".children[1].textContent"
            )
            assert await browser.evaluate(category_cell) == entry(Category.HOSPITAL_TRANSPORT).zh
            # English labels on request, then back to Chinese for the screenshot.
            await browser.evaluate("document.querySelector('#lang').click()")
            assert "live dispatch" in await browser.evaluate(
                "document.querySelector('h1').textContent"
            )
            assert await browser.evaluate(category_cell) == entry(Category.HOSPITAL_TRANSPORT).en
            await browser.evaluate("document.querySelector('#lang').click()")
            shot = tmp_path / "dashboard.png"
            await browser.screenshot(shot)
            keep = REPO_ROOT / "test-output" / "dashboard.png"
            keep.parent.mkdir(exist_ok=True)
            shutil.copyfile(shot, keep)
            print(f"screenshot {shot} (copied to {keep}) at {datetime.now(UTC).isoformat()}")
    finally:
        await browser.close()
        await conn.close()
