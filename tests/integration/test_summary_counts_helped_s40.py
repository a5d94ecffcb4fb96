"""Session 40: a helper who helped is not told "您没有接单". Before, the month summary and the
staff month report counted only assignments the helper marked 已完成; one whose requester
(or staff) confirmed the request resolved first had none, and `python -m dispatcher summary`
told them they had taken no request. Now a request held to its close counts as helped (its
service hours still come from 已完成 only); withdrawn, no-shows, stood down before "done"
or still open do not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.ops.reports import month_report
from dispatcher.record.projection import record_events
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from schemas.commands import (
    CancelRequest,
    CompleteAssignment,
    MarkOnMyWay,
    ReferRequest,
    ResolveRequest,
    WithdrawHelper,
)
from schemas.vocab import Party, ReferralTarget, Skill
from tests.support import builders, stack_db
from tests.support.cli import run_cli
from tests.support.link_answers import press
from tests.support.private_phones import phones_and_robot, pushes
from tests.support.waiting import eventually
from tests.unit.conftest import COMMUNITY, World

STAFF = {"Authorization": "Bearer dev-staff-token"}
LOCAL = timezone(timedelta(hours=8))
RESOLVED_FIRST = "sum-resolved-first"

conn = stack_db.conn  # a connection to the module's namespace


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_and_robot(stack) as receiver:
        yield receiver


async def test_a_helper_whose_requester_resolved_first_is_told_they_helped(
    stack: LocalStack, phones: PushReceiver, conn: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        body = builders.helper("rf-kim", RESOLVED_FIRST, ["driving"], channels=["phones"])
        r = await client.put("/v1/admin/helpers/rf-kim", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        r = await client.post(
            "/v1/requests",
            json=builders.request(RESOLVED_FIRST, source=None, urgency="normal"),
            headers=STAFF,
        )
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        await phones.wait_for(
            lambda: any(o["request_id"] == rid for o in pushes(phones, "offer", "rf-kim")), 30
        )
        offer = next(o for o in pushes(phones, "offer", "rf-kim") if o["request_id"] == rid)
        accepted = await press(client, urlparse(offer["accept_url"]).path)
        assert accepted.status_code == 200, accepted.text
        # The requester (here staff for them) confirms it resolved; 已完成 is never pressed.
        resolved = await client.post(
            f"/v1/requests/{rid}/resolve", json={"request_id": rid}, headers=STAFF
        )
        assert resolved.status_code == 202, resolved.text

    async def closed() -> str | None:
        return await conn.fetchval(  # type: ignore[no-any-return]
            "SELECT outcome FROM requests WHERE request_id = $1 AND closed_at IS NOT NULL", rid
        )

    assert await eventually(closed, what="the request resolved") == "resolved"
    assert (
        await conn.fetchval(
            "SELECT done_at FROM assignments WHERE request_id = $1 AND helper_id = 'rf-kim'", rid
        )
        is None
    )  # the helper never marked it done
    opened = await conn.fetchval("SELECT opened_at FROM requests WHERE request_id = $1", rid)
    month = opened.astimezone(LOCAL).strftime("%Y-%m")

    # The staff report counts them as having helped once, with no hours (none recorded).
    report, _ = await run_cli(
        stack, "report", "--community", RESOLVED_FIRST, "--month", month, "--json"
    )
    assert report["helpers"] == [{"helper_id": "rf-kim", "assignments": 1, "service_hours": 0.0}]
    # Without --everyone: they are among the helpers of the month, and told so.
    result, _ = await run_cli(
        stack, "summary", "--community", RESOLVED_FIRST, "--month", month, "--wait", "60"
    )
    assert result == {"community_id": RESOLVED_FIRST, "month": month, "to_send": 1, "sent": 1}
    await phones.wait_for(lambda: bool(pushes(phones, "summary", "rf-kim")), timeout=30)
    [summary] = pushes(phones, "summary", "rf-kim")
    assert "帮助了1次" in summary["text"] and "没有接单" not in summary["text"], summary
    assert "0分钟" not in summary["text"]  # no minutes recorded is not zero minutes of help


def _offered_to(w: World, rid: str, helper_id: str) -> None:
    w.helper(helper_id, skills=[Skill.DRIVING])
    d = w.submit(rid)
    assert helper_id in w.offered(d), (rid, w.offered(d))
    w.accept(helper_id, rid)


async def test_helped_means_done_or_held_to_the_close(conn: asyncpg.Connection) -> None:
    w = World()
    _offered_to(w, "r-done", "h-done")  # 已完成 with 30 minutes
    w.run(CompleteAssignment(request_id="r-done", helper_id="h-done", minutes=30))
    _offered_to(w, "r-resolved", "h-resolved")  # the requester confirmed it first
    w.later(600)
    w.run(ResolveRequest(request_id="r-resolved", by=Party.REQUESTER))
    _offered_to(w, "r-kept", "h-kept")  # referred to 120: helpers kept, told to go on
    w.run(ReferRequest(request_id="r-kept", to=ReferralTarget.AMBULANCE))
    _offered_to(w, "r-ended", "h-ended")  # held when its lifetime ran out
    while w.request("r-ended").next_deadline is not None:
        w.tick("r-ended")
    assert w.request("r-ended").closed_at is not None
    # Not helped: could not go, did not show, stood down on the way, still open.
    _offered_to(w, "r-withdrew", "h-withdrew")
    w.run(WithdrawHelper(request_id="r-withdrew", helper_id="h-withdrew"))
    w.run(ResolveRequest(request_id="r-withdrew", by=Party.STAFF))
    _offered_to(w, "r-noshow", "h-noshow")
    w.run(WithdrawHelper(request_id="r-noshow", helper_id="h-noshow", no_show=True))
    w.run(CancelRequest(request_id="r-noshow", by=Party.STAFF, reason="x"))
    _offered_to(w, "r-cancelled", "h-cancelled")
    w.run(MarkOnMyWay(request_id="r-cancelled", helper_id="h-cancelled"))
    w.run(CancelRequest(request_id="r-cancelled", by=Party.REQUESTER, reason="ok now"))
    _offered_to(w, "r-open", "h-open")

    await record_events(conn, w.events)
    month = w.now.astimezone(LOCAL).strftime("%Y-%m")
    report = await month_report(conn, COMMUNITY, month)
    helped = {h["helper_id"]: (h["assignments"], h["service_hours"]) for h in report.helpers}
    assert helped == {
        "h-done": (1, 0.5),
        "h-resolved": (1, 0.0),
        "h-kept": (1, 0.0),
        "h-ended": (1, 0.0),
    }
