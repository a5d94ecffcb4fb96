"""Session 42 audit (H2, finding 2): an offer of a phone need (a tech helper or a nurse who
guides by phone, searched across the whole community: `WaveOffer.remote`) asked the helper
to come: the push said "需要1位邻居帮忙（…），您能来吗？" / "能来：…", and the link's page
"确认前往后，您会看到…具体位置" with "我可以去帮忙". A helper across the community, asked
to walk to a building far away, declines a call they would have made. Now the push asks for
a call ("无需前往"), the record keeps the offer's `remote` (migration 0417) and the page
words its confirmation to match. Real API and worker, local Kafka and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.links import ANSWER_PATH, helper_link
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.default_phones import default_phones
from tests.support.held_ends import resolve
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
COMMUNITY = "phone-offer-s42"
REQUESTER_PHONE, FLAT = "13912345678", "501"


@pytest.fixture(scope="module")
async def receiver(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    """Worker and API; helper t1 (tech help: by phone) on the default webhook."""
    t1 = builders.helper("t1", COMMUNITY, ["tech_help"], phone="13800000021")
    async with default_phones(stack, "worker-phone-offer-s42", [t1]) as phones:
        yield phones


@pytest.fixture(scope="module")
async def api(stack: LocalStack, receiver: PushReceiver) -> LocalStack:
    """The stack, started by `receiver` (the conftest's `db` reads it)."""
    return stack


async def test_an_offer_of_a_phone_need_asks_for_a_call_not_a_visit(
    api: LocalStack, receiver: PushReceiver, db: asyncpg.Connection
) -> None:
    stack = api
    body = builders.request(
        COMMUNITY,
        source=None,
        category="tech_help",
        urgency="normal",
        skills=["tech_help"],
        text="我手机不会用微信视频，谁能教我一下？",
    )
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30, headers=NAVIGATION) as phone:
        r = await phone.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        try:

            async def offer() -> dict | None:
                for one in receiver.for_path("/phones"):
                    data = one.json()["data"]
                    if data.get("request_id") == rid and data.get("kind") == "offer":
                        return one.json()
                return None

            pushed = await eventually(offer, what="t1's offer pushed")
            text = json.dumps(pushed, ensure_ascii=False)
            assert "您能来吗" not in text and "能来：" not in text, text
            assert "电话" in text and "无需前往" in text, text
            assert REQUESTER_PHONE not in text and FLAT not in text, "privacy: an offer"

            async def recorded() -> list[bool] | None:
                remote = await db.fetchval(
                    "SELECT remote FROM offers WHERE request_id = $1 AND helper_id = 't1'", rid
                )
                return None if remote is None else [remote]

            [remote] = await eventually(recorded, what="t1's offer recorded")
            assert remote, "the offer's remote recorded"
            accept = httpx.URL(pushed["data"]["accept_url"]).raw_path.decode()
            page = await phone.get(accept)
            assert page.status_code == 200, page.text
            assert "确认前往" not in page.text and "我可以去帮忙" not in page.text, page.text
            assert "无需前往" in page.text and "我可以电话帮忙" in page.text, page.text
            assert REQUESTER_PHONE not in page.text and FLAT not in page.text, page.text
            # /l/me (where a group's offer is answered) on t1's phone, bound by their link.
            personal = helper_link(
                stack.settings(push_endpoints=[]), helper_id="t1", community_id=COMMUNITY
            )
            assert (await phone.get(httpx.URL(personal).raw_path.decode())).status_code == 200
            mine = await phone.get(ANSWER_PATH)
            assert "我可以电话帮忙" in mine.text and "我可以去帮忙" not in mine.text, mine.text
            decline = httpx.URL(pushed["data"]["decline_url"]).raw_path.decode()
            no = await phone.get(decline)
            assert "不方便前往" not in no.text and "这次帮不了" in no.text, no.text
        finally:
            await resolve(phone, db, rid)
