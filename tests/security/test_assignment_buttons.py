"""Attack: pressing another helper's "on my way" / "can't come" / "done". The buttons act
only for the helper who accepted, on the phone that accepted (or with their platform
login): a forwarded link, another helper's link, or no session is refused with 403 and
no command reaches the core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from dispatcher.links import action_links
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.link_answers import confirming, press
from tests.support.links import offer_path
from tests.support.started import with_helpers
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-buttons"
STEPS = ("on-my-way", "cant-come", "done")


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_helpers(stack, COMMUNITY, ("b1", "b2"))


def accept_path(api: LocalStack, rid: str, offer_id: str, helper: str) -> str:
    return offer_path(api, COMMUNITY, rid, offer_id, helper)


async def test_only_the_accepting_phone_can_press_the_buttons(api: LocalStack) -> None:
    db = await asyncpg.connect(api.pg_dsn)
    try:
        async with (
            httpx.AsyncClient(base_url=api.api_url, timeout=15) as b1_phone,
            httpx.AsyncClient(base_url=api.api_url, timeout=15) as b2_phone,
            httpx.AsyncClient(base_url=api.api_url, timeout=15) as stranger,
        ):
            body = builders.request(COMMUNITY, source=None, helpers_needed=2)
            r = await b1_phone.post("/v1/requests", json=body, headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]

            async def offers() -> dict[str, str] | None:
                rows = await db.fetch(
                    "SELECT helper_id, offer_id FROM offers WHERE request_id = $1", rid
                )
                found = {row["helper_id"]: row["offer_id"] for row in rows}
                return found if len(found) == 2 else None

            offer = await eventually(offers, what="two offers")
            b1_link = accept_path(api, rid, offer["b1"], "b1")
            b2_link = accept_path(api, rid, offer["b2"], "b2")
            # Each accepted on its phone (the page it ends on: the press answers 202 while
            # the worker decides), so each holds an assignment the buttons act on.
            for phone, link in ((b1_phone, b1_link), (b2_phone, b2_link)):
                accepted = await press(phone, link)
                assert accepted.status_code == 200, accepted.text

            # 1. No session: b1's own (forwarded) link on a phone that never accepted.
            for step in STEPS:
                r = await stranger.post(f"{b1_link}/p/{step}", data={"minutes": "600"})
                assert r.status_code == 403, (step, r.status_code, r.text)
            # 2. Another helper: b2's phone (b2's cookie) pressing b1's link.
            for step in STEPS:
                r = await b2_phone.post(f"{b1_link}/p/{step}", data={"minutes": "600"})
                assert r.status_code == 403, (step, r.status_code)
            # 3. An edited link (b1's token with one character changed) is no link at all.
            edited = b1_link[:-2] + ("A" if b1_link[-2] != "A" else "B") + b1_link[-1]
            assert (await b1_phone.post(f"{edited}/p/done")).status_code == 400
            # 4. A decline link is not an accepted helper's link, even on b1's phone.
            decline = action_links(
                api.settings(),
                request_id=rid,
                offer_id=offer["b1"],
                helper_id="b1",
                community_id=COMMUNITY,
                expires_at=datetime.now(UTC) + timedelta(minutes=10),
            )["decline"]
            r = await b1_phone.post(httpx.URL(decline).raw_path.decode() + "/p/done")
            assert r.status_code == 400

            # None of it reached the core: no progress event, no rejection, nothing changed.
            kinds = await db.fetch(
                "SELECT type FROM event_log WHERE request_id = $1 AND type IN "
                "('helper_set_off', 'assignment_completed', 'helper_withdrawn', "
                "'command_rejected')",
                rid,
            )
            assert kinds == []
            # The owner's own press works (the refusals above were about identity).
            # Its page: done (200) or, the worker not done within the API's wait, 202
            # "confirming"; either way the minutes are recorded.
            mine = await b1_phone.post(f"{b1_link}/p/done", data={"minutes": "20"})
            assert mine.status_code == 200 or confirming(mine), mine.text

            async def minutes() -> int | None:
                return await db.fetchval(  # type: ignore[no-any-return]
                    "SELECT minutes_spent FROM assignments "
                    "WHERE request_id = $1 AND helper_id = 'b1'",
                    rid,
                )

            assert await eventually(minutes, what="b1's done recorded") == 20
    finally:
        await db.close()
