"""An offer stood down because another neighbour filled the request says so when its link
is opened (audit s38, helper pages finding 2). Before, the link of a stood-down offer still
showed "附近邻居需要帮助…[我可以去帮忙]" and only the press answered "已有邻居接手":
`offer_pages._confirmation` looked at whether the request was closed, never at the offer.

Not every offer the core stopped waiting for is dead: the core still takes a late answer
into a free slot (`request_commands`: "A late answer … still fills a free slot"), so once
the accepting neighbour withdraws, the same stood-down link invites again and its press
assigns. Through the real API, Kafka, worker and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from dispatcher.links import action_links
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.link_answers import press
from tests.support.started import with_helpers
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "s38-stood-down"
PHONE = "13912345678"  # builders.request's requester
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
INVITES = "我可以去帮忙"
COVERED = "已有邻居接手"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_helpers(stack, COMMUNITY, ("sa", "sb"), timeout=30)


def links(api: LocalStack, rid: str, offer_id: str, helper: str) -> dict[str, str]:
    urls = action_links(
        api.settings(push_endpoints=[]),
        request_id=rid,
        offer_id=offer_id,
        helper_id=helper,
        community_id=COMMUNITY,
        expires_at=datetime.now(UTC) + timedelta(minutes=10),
    )
    return {k: httpx.URL(v).raw_path.decode() for k, v in urls.items()}


async def test_a_stood_down_offer_says_covered_until_a_slot_frees(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    async with (
        httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=BROWSER) as a_phone,
        httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=BROWSER) as b_phone,
    ):
        r = await a_phone.post(
            "/v1/requests", json=builders.request(COMMUNITY, source=None), headers=STAFF
        )
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]

        async def offers() -> dict[str, str] | None:
            rows = await db.fetch(
                "SELECT helper_id, offer_id FROM offers WHERE request_id = $1", rid
            )
            got = {x["helper_id"]: x["offer_id"] for x in rows}
            return got if {"sa", "sb"} <= set(got) else None

        offered = await eventually(offers, what="both neighbours offered")
        a, b = links(api, rid, offered["sa"], "sa"), links(api, rid, offered["sb"], "sb")
        assert INVITES in (await b_phone.get(b["accept"])).text  # open: it invites

        accepted = await press(a_phone, a["accept"])
        assert accepted.status_code == 200 and PHONE in accepted.text, accepted.text

        async def status_of_b() -> str | None:
            value = await db.fetchval(
                "SELECT status FROM offers WHERE offer_id = $1", offered["sb"]
            )
            return value if value == "stood_down" else None

        await eventually(status_of_b, what="sb's offer stood down")
        for action in ("accept", "decline"):
            shown = await b_phone.get(b[action])
            assert shown.status_code == 200, shown.text
            assert COVERED in shown.text, (action, shown.text)
            assert INVITES not in shown.text and "这次去不了" not in shown.text, shown.text
            assert PHONE not in shown.text

        # sa cannot come after all: the slot is free, and the core takes sb's late answer.
        found = re.search(r'action="(/l/o/[^"]+/p/cant-come)"', accepted.text)
        assert found, accepted.text
        gone = await a_phone.post(found.group(1))
        assert gone.status_code == 200, gone.text

        async def free() -> bool:
            held = await db.fetchval(
                "SELECT helpers_assigned FROM requests WHERE request_id = $1", rid
            )
            return held == 0

        await eventually(free, what="sa's slot free again")
        again = await b_phone.get(b["accept"])
        assert again.status_code == 200 and INVITES in again.text, again.text
        late = await press(b_phone, b["accept"])
        assert late.status_code == 200 and PHONE in late.text, late.text
