"""Session 42 audit (H2, finding 3): a helper refused as `helping_elsewhere` (holding another
in-person errand) could never take that request once free: the link's one use was spent on
the refusal (`api_link_uses`, outcome helping_elsewhere), so every later press replayed the
refusal page and sent nothing, although the core says "Later, free again, they may still
take a slot left open" (`_busy_elsewhere`). Now, while they still hold the errand, the
refusal stays the link's answer (a press sends nothing); once `presence_held` is empty the
use is reopened, the link invites again and a press is a new try (its own command id, as a
team leader's retry after a member refusal). Real API and worker, local Kafka and
PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from dispatcher.links import action_links
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.default_phones import default_phones
from tests.support.held_ends import resolve
from tests.support.link_answers import press
from tests.support.links import request_with_offers
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
COMMUNITY = "free-again-s42"
REQUESTER_PHONE = "13912345678"
BUSY = "您正在帮助另一位邻居"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    """Worker and API; drivers d1, d2 reached privately (the default webhook)."""
    helpers = [
        builders.helper(hid, COMMUNITY, ["driving"], phone=phone)
        for hid, phone in (("d1", "13800000031"), ("d2", "13800000032"))
    ]
    async with default_phones(stack, "worker-free-again-s42", helpers):
        yield stack


async def _request(
    client: httpx.AsyncClient, db: asyncpg.Connection, **extra: object
) -> tuple[str, dict[str, str]]:
    return await request_with_offers(client, db, COMMUNITY, 2, helpers_needed=1, **extra)


def _accept_path(api: LocalStack, rid: str, offer_id: str) -> str:
    links = action_links(
        api.settings(push_endpoints=[]),
        request_id=rid,
        offer_id=offer_id,
        helper_id="d1",
        community_id=COMMUNITY,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )
    return httpx.URL(links["accept"]).raw_path.decode()


async def test_free_again_the_helper_may_take_the_request_they_were_refused(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=NAVIGATION) as phone:
        r1, o1 = await _request(phone, db)
        other = builders.place(COMMUNITY, building="b5", unit="1", floor=2, household_id="h-x")
        r2, o2 = await _request(phone, db, place=other)
        link1, link2 = _accept_path(api, r1, o1["d1"]), _accept_path(api, r2, o2["d1"])
        try:
            took = await press(phone, link1)
            assert took.status_code == 200 and REQUESTER_PHONE in took.text, took.text

            async def stood_down() -> bool:
                status = await db.fetchval(
                    "SELECT status FROM offers WHERE offer_id = $1", o2["d1"]
                )
                return status == "stood_down"

            await eventually(stood_down, what="d1's R2 offer stood down")
            refused = await press(phone, link2)
            assert BUSY in refused.text, refused.text
            # Still busy: the refusal stays the link's answer, on the page and a press.
            assert BUSY in (await phone.get(link2)).text
            assert BUSY in (await press(phone, link2)).text
            done = re.search(r'action="(/l/o/[^"]+/p/done)"', took.text)
            assert done, took.text
            assert (await phone.post(done[1], data={"minutes": "15"})).status_code in (200, 202)

            async def r1_closed() -> bool:
                return bool(
                    await db.fetchval(
                        "SELECT closed_at IS NOT NULL FROM requests WHERE request_id = $1", r1
                    )
                )

            await eventually(r1_closed, what="R1 resolved by d1's done")
            assert await db.fetchval(
                "SELECT helpers_assigned < helpers_needed AND closed_at IS NULL"
                " FROM requests WHERE request_id = $1",
                r2,
            ), "R2 should still have its free slot"
            invited = await phone.get(link2)
            assert BUSY not in invited.text and "我可以去帮忙" in invited.text, invited.text
            again = await press(phone, link2)
            assert BUSY not in again.text, re.sub(r"<[^>]+>", " ", again.text)[-300:]
            assert REQUESTER_PHONE in again.text, again.text
            assert await db.fetchval(
                "SELECT count(*) FROM assignments WHERE request_id = $1 AND helper_id = 'd1'",
                r2,
            )
        finally:
            for rid in (r1, r2):
                if not await db.fetchval(
                    "SELECT closed_at IS NOT NULL FROM requests WHERE request_id = $1", rid
                ):
                    await resolve(phone, db, rid)
