"""A neighbour stood down because the slot was covered is asked again when the helper who
took it withdraws (去不了了, 2713983), and the read model shows their offer open again:
`open_offers` lists it, so they can answer it from `/l/me` (the page a chat group's offer
links to), not only from their push's link. Real API, worker, Kafka and PostgreSQL.

Before: the re-ask (the same offer id, fixed by request and helper) was recorded with
`ON CONFLICT (offer_id) DO NOTHING`: the row stayed `stood_down`, `/l/me` said there was
nothing to answer (and refused the answer, 404), the dashboard showed them stood down, and
the request's `offers_sent` counted them twice."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from dispatcher.links import ANSWER_PATH, helper_link
from dispatcher.record.read.offers import open_offers
from dispatcher.testing.stack import LocalStack
from tests.security.test_offer_device_binding import NAVIGATION
from tests.support import builders
from tests.support.kept_helpers import form_action
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.neighbours_s39 import STAFF, started_with
from tests.support.team_offers import offer_of
from tests.support.waiting import eventually

COMMUNITY = "s40-reask-read"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await started_with(stack, COMMUNITY, ("pa", "pb"))


async def _row(db: asyncpg.Connection, oid: str, status: str) -> asyncpg.Record | None:
    return await db.fetchrow(  # type: ignore[no-any-return]
        "SELECT * FROM offers WHERE offer_id = $1 AND status = $2", oid, status
    )


async def test_a_covered_neighbour_asked_again_can_answer_from_the_answer_page(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    pa = httpx.AsyncClient(base_url=api.api_url, timeout=30)
    pb = httpx.AsyncClient(base_url=api.api_url, timeout=30)
    try:
        # A critical request: pa and pb (both in its building) are asked at once.
        r = await pa.post(
            "/v1/requests", json=builders.request(COMMUNITY, source=None), headers=STAFF
        )
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        offers = {h: await offer_of(db, rid, h) for h in ("pa", "pb")}

        # pa takes the slot: pb is stood down, covered.
        path = offer_path(api, COMMUNITY, rid, offers["pa"], "pa")
        assert (await pa.get(path)).status_code == 200  # binds pa's browser
        done = await press(pa, path, what="pa's accept")
        assert done.status_code == 200 and "谢谢您！请前往帮忙" in done.text, done.text
        first = await eventually(
            lambda: _row(db, offers["pb"], "stood_down"), what="pb stood down as covered"
        )

        # pa cannot come after all (去不了了): the slot reopens and pb is asked again, under
        # the same offer id, before anyone farther.
        cant = form_action((await pa.get(path)).text, "cant-come")
        assert cant, "pa's page has no 去不了了"
        gone = await pa.post(cant)
        assert gone.status_code == 200 and "已记录：这次去不了" in gone.text, gone.text
        again = await eventually(
            lambda: _row(db, offers["pb"], "sent"), what="pb's offer open again"
        )
        assert again["sent_at"] > first["sent_at"] and again["answered_at"] is None, again
        assert again["expires_at"] > again["sent_at"], again
        sends = await db.fetchval(
            "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'offers_sent' "
            "AND body::text LIKE '%' || $2 || '%'",
            rid,
            offers["pb"],
        )
        assert sends == 2  # the first wave and the re-ask: one offer id, one row
        assert [o.offer_id for o in await open_offers(db, "pb")] == [offers["pb"]]
        # Each neighbour asked counts once (pa and pb), the re-ask not twice.
        assert await db.fetchval(
            "SELECT offers_sent FROM requests WHERE request_id = $1", rid
        ) == len(offers)

        # pb's phone, bound through pb's personal link, lists the offer on /l/me and
        # accepts it there.
        personal = helper_link(
            api.settings(push_endpoints=[]), helper_id="pb", community_id=COMMUNITY
        )
        bound = await pb.get(httpx.URL(personal).raw_path.decode(), headers=NAVIGATION)
        assert bound.status_code == 200, bound.text
        listed = await pb.get(ANSWER_PATH)
        assert listed.status_code == 200 and offers["pb"] in listed.text, listed.text
        accepted = await press(
            pb, f"{ANSWER_PATH}/offers/{offers['pb']}/accept", what="pb's accept on /l/me"
        )
        assert accepted.status_code == 200 and "谢谢您！请前往帮忙" in accepted.text, accepted.text

        async def assigned() -> tuple[str, int] | None:
            row = await db.fetchrow(
                "SELECT o.status, r.helpers_assigned FROM offers o JOIN requests r "
                "USING (request_id) WHERE o.offer_id = $1",
                offers["pb"],
            )
            return (row["status"], row["helpers_assigned"]) if row["status"] != "sent" else None

        assert await eventually(assigned, what="pb's accept recorded") == ("accepted", 1)
    finally:
        for client in (pa, pb):
            await client.aclose()
