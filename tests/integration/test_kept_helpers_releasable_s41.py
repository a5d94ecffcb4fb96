"""Helpers kept after a referral to 120 stay releasable from the dashboard, on the real stack
(a WeCom group asks, the API, Kafka, the worker, PostgreSQL).

Before: `GET /ops/v1/requests/{id}/helpers` said only `open: false` for a referred request,
and the page draws its 未到场 buttons from `open`, so a kept helper who never came could not
be released from the dashboard, though the no-show route takes them; and the request left
the dashboard an hour after the referral, while pa still held it. Now the listing says
`releasable: true` while a kept helper holds it, and the overview keeps the request (with
`kept_holders`) until nobody does, for at most a day."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

# The module's stack (a WeCom group, pa and pb on the phones), as the session-38 referral
# test starts it.
from tests.integration.test_referral_keeps_helpers_s38 import api, run  # noqa: F401
from tests.support import kept_helpers as kept
from tests.support import platform_flow as flow
from tests.support.staff import DISTRICT, bearer
from tests.support.waiting import eventually


async def overview_row(client: httpx.AsyncClient, rid: str) -> dict[str, Any] | None:
    ov = await client.get("/ops/v1/overview", headers=bearer(DISTRICT))
    assert ov.status_code == 200, ov.text
    doc = ov.json()
    return next((r for r in doc["recent_closed"] + doc["open"] if r["request_id"] == rid), None)


async def test_a_kept_helper_is_releasable_and_the_request_stays_on_the_dashboard(
    run: flow.Running,  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, _, _ = await kept.pa_accepts_then_staff(
            run, client, db, "6号楼有位老人摔倒了起不来，快来人帮忙", "refer", kept.REFER_120
        )
        listing = f"/ops/v1/requests/{rid}/helpers"
        doc = (await client.get(listing, headers=bearer(DISTRICT))).json()
        assert doc["open"] is False and doc["releasable"] is True, doc
        assert [h["helper_id"] for h in doc["helpers"]] == ["pa"], doc

        # Two hours after the referral (the read model's clock moved back: waiting an hour
        # is not a test), pa still holds it: the dashboard still lists it.
        await db.execute(
            "UPDATE requests SET closed_at = closed_at - interval '2 hours' WHERE request_id = $1",
            rid,
        )
        row = await overview_row(client, rid)
        assert row is not None, "a request a kept helper holds left the dashboard"
        assert (row["status"], row["referred_to"], row["kept_holders"]) == ("referred", "120", 1)
        # A day after the referral it leaves the screen though pa never pressed 已完成 (who
        # stayed until the ambulance came and forgot): staff are not left a no-show against
        # a helper as the only way to clear it; the listing still lets them release pa.
        await db.execute(
            "UPDATE requests SET closed_at = closed_at - interval '23 hours' WHERE request_id = $1",
            rid,
        )
        assert await overview_row(client, rid) is None, "a day-old kept request stayed listed"
        doc = (await client.get(listing, headers=bearer(DISTRICT))).json()
        assert doc["releasable"] is True, doc

        # Staff release pa (never came): nobody holds it now, so it leaves, and the listing
        # offers no button.
        r = await client.post(f"{listing}/pa/no-show", headers=bearer(DISTRICT))
        assert r.status_code == 202, r.text

        async def released() -> bool:
            return (
                await db.fetchval(
                    "SELECT released_why FROM assignments WHERE request_id = $1"
                    " AND helper_id = 'pa'",
                    rid,
                )
                == "no_show"
            )

        assert await eventually(released, what="pa released as a no-show")
        assert await overview_row(client, rid) is None
        doc = (await client.get(listing, headers=bearer(DISTRICT))).json()
        assert (doc["open"], doc["releasable"], doc["helpers"]) == (False, False, []), doc
