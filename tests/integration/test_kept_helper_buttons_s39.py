"""A helper kept after a staff referral to 120 (b75c8e8) still has 我在路上 and 去不了了 on
the real stack (a WeCom group asks, the API, Kafka, the worker, PostgreSQL, pushes to a
real receiver, the helper's real pages).

Before: pa, told "如您能前往，请继续前往协助", opened the accept link and found 已完成 alone
(assignment_pages.section hid 我在路上 and 去不了了 on any closed request), and 去不了了
was refused by the core (`helper_withdrew`: request_closed): a kept helper who could not go
after all had no way to say so, and staff went on counting on them."""

from __future__ import annotations

import asyncpg
import httpx

# The module's stack (a WeCom group, pa and pb on the phones), as the session-38 referral
# test starts it.
from tests.integration.test_referral_keeps_helpers_s38 import api, run  # noqa: F401
from tests.support import kept_helpers as kept
from tests.support import platform_flow as flow
from tests.support.waiting import eventually


async def test_a_kept_helper_sets_off_then_withdraws_and_nobody_else_is_asked(
    run: flow.Running,  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, link, decline = await kept.pa_accepts_then_staff(
            run, client, db, "6号楼有位老人摔倒了起不来，快来人帮忙", "refer", kept.REFER_120
        )
        offers = await db.fetchval("SELECT count(*) FROM offers WHERE request_id = $1", rid)
        # Opened after the referral, pa's page offers all three buttons: pa was told to go
        # on if they can (b75c8e8), so setting off and not coming after all both matter.
        # The offer's own 来不了 link, opened now, does not say "求助已结束，无需前往": pa
        # still holds it, and its 去不了了 is there.
        held = await client.get(decline)
        assert held.status_code == 200, held.text
        assert "您已接下这次求助" in held.text and "无需前往" not in held.text, held.text
        assert kept.form_action(held.text, "cant-come") and "社区工作人员会看到" in held.text, (
            held.text
        )
        page = await client.get(link)
        assert page.status_code == 200, page.text
        way = kept.form_action(page.text, "on-my-way")
        assert (
            way and kept.form_action(page.text, "cant-come") and kept.form_action(page.text, "done")
        ), page.text
        on_way = await client.post(way)
        assert on_way.status_code == 200 and "您在路上" in on_way.text, on_way.text
        cant = kept.form_action(on_way.text, "cant-come")
        assert cant and not kept.form_action(on_way.text, "on-my-way"), on_way.text
        # Then pa cannot go after all: recorded, and the page does not promise another
        # neighbour (nobody else is asked: the request is with 120).
        gone = await client.post(cant)
        assert gone.status_code == 200, gone.text
        assert "已记录：这次去不了" in gone.text and "不再另找邻居" in gone.text, gone.text
        assert "马上联系其他邻居" not in gone.text, gone.text

    async def released() -> tuple[str, str, int] | None:
        row = await db.fetchrow(
            "SELECT a.released_why, r.status, r.helpers_assigned FROM assignments a"
            " JOIN requests r USING (request_id) WHERE a.request_id = $1 AND a.helper_id = 'pa'"
            " AND a.on_way_at IS NOT NULL AND a.released_at IS NOT NULL",
            rid,
        )
        return tuple(row) if row is not None else None  # type: ignore[return-value]

    # What staff see: pa released as withdrawn, nobody assigned, the request still referred.
    recorded = await eventually(released, what="pa's withdrawal recorded")
    assert recorded == ("withdrew", "referred", 0)
    # No new wave: the offers are those made before the referral, each stood down.
    assert await db.fetchval("SELECT count(*) FROM offers WHERE request_id = $1", rid) == offers


async def test_a_request_resolved_by_staff_keeps_only_done(
    run: flow.Running,  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    """Any other closing leaves 已完成 alone on the page, as before: a resolved request
    (its helpers' 已完成 still counts) has nobody to set off nor to withdraw from."""
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        _, link, _ = await kept.pa_accepts_then_staff(
            run,
            client,
            db,
            "9号楼有位老人摔倒了起不来，快来人帮忙",
            "resolve",
            {"note": "家属已送医"},
        )
        page = await client.get(link)
        assert page.status_code == 200, page.text
        assert kept.form_action(page.text, "done"), page.text
        assert not kept.form_action(page.text, "on-my-way") and not kept.form_action(
            page.text, "cant-come"
        ), page.text
