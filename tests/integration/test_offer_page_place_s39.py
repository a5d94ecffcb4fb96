"""Session 39 (audit: inject/privacy): before anyone accepts, the offer's pages name the
place as its push does. A request whose building name holds the flat ("3号楼2单元502室",
as a household ledger's 楼栋 cell or a bot's free text may give it) was shown raw on the
offer link's page (every helper offered; a chat app's link preview fetches it too) and on
`/l/me`. Now they say "3号楼" (since session 40 with its compound, "图强小区 3号楼"); the
helper who accepted still sees the whole address.
Real API, worker, Kafka and PostgreSQL."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from dispatcher.links import helper_link
from dispatcher.testing.stack import LocalStack
from tests.security.test_offer_device_binding import NAVIGATION
from tests.support import builders
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.neighbours_s39 import STAFF, started_with
from tests.support.team_offers import offer_of

COMMUNITY = "s39-offer-place"
FLAT = "3号楼2单元502室"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await started_with(stack, COMMUNITY, ("pa", "pb"))


def _place(html: str) -> str:
    """The page's facts: what it says of the request."""
    return html[html.find("<dl>") : html.find("</dl>") + 5]


async def test_offered_helpers_see_the_building_and_the_accepting_one_the_flat(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    # Since fb77ac9/17f9638 a help request's building name holding the flat is cut to its
    # building, and since 8297041 a ledger's 楼栋 cell keeps only the building: a label with
    # the flat is now a row stored before them, made here by writing it into the read
    # model the pages read (`tests/unit/test_place_names_private_s39.py` covers the cut).
    body = builders.request(COMMUNITY, source=None)
    body["contact"]["address"] = FLAT
    pa = httpx.AsyncClient(base_url=api.api_url, timeout=30)
    pb = httpx.AsyncClient(base_url=api.api_url, timeout=30)
    preview = httpx.AsyncClient(base_url=api.api_url, timeout=30)  # a chat app's link preview
    try:
        r = await preview.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        offers = {h: await offer_of(db, rid, h) for h in ("pa", "pb")}
        await db.execute(
            "UPDATE requests SET building_label = $2 WHERE request_id = $1", rid, "图强小区 " + FLAT
        )

        for helper, oid in offers.items():
            for action in ("accept", "decline"):
                page = await preview.get(offer_path(api, COMMUNITY, rid, oid, helper, action))
                assert page.status_code == 200, page.text
                # The compound too since session 40 (test_offer_page_compound_s40.py).
                assert "<dd>图强小区 3号楼</dd>" in page.text, _place(page.text)
                assert "502" not in page.text and "单元" not in page.text, _place(page.text)

        # pb's phone, bound through pb's personal link, lists the open offer.
        personal = helper_link(
            api.settings(push_endpoints=[]), helper_id="pb", community_id=COMMUNITY
        )
        # Opened as a person opens it: a preview binds nothing (session 39).
        path = httpx.URL(personal).raw_path.decode()
        assert (await pb.get(path, headers=NAVIGATION)).status_code == 200
        listed = await pb.get("/l/me")
        assert listed.status_code == 200 and offers["pb"] in listed.text, listed.text
        assert "图强小区 3号楼" in listed.text and "502" not in listed.text, listed.text

        # pa accepts: pa's page, and only pa's, shows where to go and whom to call.
        path = offer_path(api, COMMUNITY, rid, offers["pa"], "pa")
        assert (await pa.get(path)).status_code == 200  # binds pa's browser
        done = await press(pa, path, what="pa's accept")
        assert done.status_code == 200 and "谢谢您！请前往帮忙" in done.text, done.text
        assert FLAT in done.text and "13912345678" in done.text
    finally:
        for client in (pa, pb, preview):
            await client.aclose()
