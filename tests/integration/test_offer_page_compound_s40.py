"""Session 40: the offer's page names the compound as well as the building. A community
holds several compounds, each with its own 3号楼; the page (and the push) said only
"3号楼" (`place_label(None, label)` kept the building token of the stored label
"阳光花园 3号楼"), so two requests in two compounds' 3号楼 read the same and a helper could
go to the wrong one. Real API, worker, Kafka and PostgreSQL."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.links import offer_path
from tests.support.neighbours_s39 import STAFF, started_with
from tests.support.team_offers import offer_of

COMMUNITY = "s40-offer-compound"
# builders.place's compound c1 is 图强小区; c2 is another compound with its own 3号楼.
COMPOUNDS = {"c1": "图强小区", "c2": "阳光花园"}
HELPERS = {"c1": "ca", "c2": "cb"}


def _place(compound: str, **extra: object) -> dict[str, object]:
    return builders.place(COMMUNITY, compound, "b3", **extra) | {
        "compound_name": COMPOUNDS[compound]
    }


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    started = await started_with(stack, COMMUNITY, ())
    async with httpx.AsyncClient(base_url=started.api_url, timeout=30) as client:
        for compound, hid in HELPERS.items():
            body = builders.helper(hid, COMMUNITY, ["driving"])
            body["place"] = _place(compound, household_id=f"h-{hid}")
            r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
            assert r.status_code == 202, r.text
    return started


async def test_two_compounds_3号楼_offer_pages_are_told_apart(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as client:
        shown: dict[str, str] = {}
        for compound, hid in HELPERS.items():
            body = builders.request(COMMUNITY, source=None)
            body["place"] = _place(compound, unit="2", floor=5, household_id="h-requester")
            r = await client.post("/v1/requests", json=body, headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]
            oid = await offer_of(db, rid, hid)
            page = await client.get(offer_path(api, COMMUNITY, rid, oid, hid))
            assert page.status_code == 200, page.text
            facts = page.text[page.text.find("<dl>") : page.text.find("</dl>") + 5]
            shown[compound] = facts
            assert f"<dd>{COMPOUNDS[compound]} 3号楼</dd>" in facts, facts
            assert "单元" not in facts and "13912345678" not in facts, facts
        assert shown["c1"] != shown["c2"]
