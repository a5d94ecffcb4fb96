"""A deactivated helper's personal link (audit s38), through the real API, Kafka, worker and
read model: once staff take the helper off the roster, the link they kept answers 410
"您已不在志愿者名单中" and binds no phone, and no button of it changes anything; a command
reaching the worker anyway (queued before the deactivation was recorded) is refused,
`helper_inactive`, with nothing stored. And `python -m dispatcher summary` sends no month
summary to a helper deactivated after helping that month."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.links import DEVICE_COOKIE, helper_link
from dispatcher.record.read.dashboard import LOCAL_TZ
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from schemas.commands import SetHelperStatus
from tests.security.test_offer_device_binding import NAVIGATION
from tests.support import builders
from tests.support.cli import run_cli
from tests.support.kafka import CommandProducer
from tests.support.link_answers import confirming, press
from tests.support.private_phones import phones_and_robot, pushes
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
C = "s38-inactive-link"
GONE = "s38-gone"
STAYS = "s38-stays"
OFF_ROSTER = "您已不在志愿者名单中，如有疑问请联系社区"


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_and_robot(stack) as receiver:
        yield receiver


def _path(stack: LocalStack, helper_id: str) -> str:
    settings = stack.settings(push_endpoints=[])  # the env holds them as JSON text
    return httpx.URL(helper_link(settings, helper_id=helper_id, community_id=C)).raw_path.decode()


async def _state(db: asyncpg.Connection, helper_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT active, away, busy FROM helpers WHERE helper_id = $1 AND community_id = $2",
        helper_id,
        C,
    )


async def test_a_deactivated_helpers_link_is_refused(
    stack: LocalStack, phones: PushReceiver
) -> None:
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            for hid in (GONE, STAYS):
                body = builders.helper(hid, C, ["driving"], channels=["phones"])
                r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
                assert r.status_code == 202, r.text

            async def recorded() -> bool:
                return all([await _state(db, GONE), await _state(db, STAYS)])

            await eventually(recorded, what="both helpers recorded")
            gone, stays = _path(stack, GONE), _path(stack, STAYS)
            # On the roster: the page, and the phone bound.
            opened = await client.get(gone, headers=NAVIGATION)  # a person, not a preview
            assert opened.status_code == 200 and DEVICE_COOKIE in opened.cookies
            assert (await client.post(f"{gone}/away")).status_code == 200

            async def away() -> bool:
                row = await _state(db, GONE)
                return row is not None and row["away"]

            await eventually(away, what=f"{GONE} away")

            r = await client.delete(f"/v1/admin/communities/{C}/helpers/{GONE}", headers=STAFF)
            assert r.status_code == 202, r.text

            async def inactive() -> bool:
                row = await _state(db, GONE)
                # Leaving the roster also ends away and busy (session 42: a helper back on the
                # roster is offered requests again, not left away).
                return row is not None and not row["active"] and not row["away"]

            await eventually(inactive, what=f"{GONE} deactivated, no longer away")

            # Off the roster: a fresh phone opening the kept link is told so, not bound.
            async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as phone:
                page = await phone.get(gone)
                assert page.status_code == 410 and OFF_ROSTER in page.text
                assert "set-cookie" not in page.headers
                for action, form in (
                    ("back", None),
                    ("on_call", None),
                    ("quiet-hours", {"start": "22:00", "end": "07:00"}),
                    ("quiet-hours/clear", None),
                    ("offer", {"skills": "plumbing"}),
                ):
                    r = await phone.post(f"{gone}/{action}", data=form)
                    assert r.status_code == 410 and OFF_ROSTER in r.text, (action, r.text)
                    assert "附近有人求助时会通知您" not in r.text
                assert "set-cookie" not in r.headers

            # Defence in depth: a status change reaching the worker anyway is refused, nothing
            # stored (it would set away and busy, which leaving the roster cleared).
            topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
            async with CommandProducer(stack.kafka_bootstrap, topic) as producer:
                back = await producer.send(SetHelperStatus(helper_id=GONE, away=True, busy=True), C)

            async def refused() -> str | None:
                reason: str | None = await db.fetchval(
                    "SELECT body->>'reason' FROM event_log"
                    " WHERE caused_by = $1 AND type = 'command_rejected'",
                    back.command_id,
                )
                return reason

            assert await eventually(refused, what="the worker's refusal") == "helper_inactive"
            row = await _state(db, GONE)
            assert row is not None and not row["away"] and not row["busy"] and not row["active"]

            # Another helper's link still works.
            assert (await client.get(stays)).status_code == 200
            r = await client.post(f"{stays}/busy")
            assert r.status_code == 200 and "已设为忙碌" in r.text
    finally:
        await db.close()


async def test_no_month_summary_for_a_helper_deactivated_since(
    stack: LocalStack, phones: PushReceiver
) -> None:
    community, hid = "s38-inactive-summary", "s38-helped-then-gone"
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            body = builders.helper(hid, community, ["driving"], channels=["phones"])
            r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
            assert r.status_code == 202, r.text

            async def recorded() -> bool:
                n = await db.fetchval("SELECT count(*) FROM helpers WHERE helper_id = $1", hid)
                return bool(n)

            await eventually(recorded, what=f"{hid} recorded")
            request = builders.request(community, source=None, urgency="normal")
            r = await client.post("/v1/requests", json=request, headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]

            def offered() -> list[dict[str, str]]:
                return [o for o in pushes(phones, "offer", hid) if o["request_id"] == rid]

            await phones.wait_for(lambda: bool(offered()), timeout=30)
            accepted = await press(client, urlparse(offered()[0]["accept_url"]).path)
            assert accepted.status_code == 200, accepted.text
            found = re.search(r'action="(/l/o/[^"]+/p/done)"', accepted.text)
            assert found, "no done button on the accepted page"
            done = await client.post(found.group(1), data={"minutes": "45"})
            assert done.status_code == 200 or confirming(done), done.text

            async def completed() -> bool:
                return bool(
                    await db.fetchval(
                        "SELECT minutes_spent FROM assignments WHERE request_id = $1", rid
                    )
                )

            await eventually(completed, what="the done recorded")
            # The month the report counts it in: the request's opening, local time.
            month = await db.fetchval(
                f"SELECT to_char(opened_at AT TIME ZONE '{LOCAL_TZ}', 'YYYY-MM')"
                " FROM requests WHERE request_id = $1",
                rid,
            )
            r = await client.delete(
                f"/v1/admin/communities/{community}/helpers/{hid}", headers=STAFF
            )
            assert r.status_code == 202, r.text

            async def inactive() -> bool:
                active = await db.fetchval("SELECT active FROM helpers WHERE helper_id = $1", hid)
                return active is False

            await eventually(inactive, what=f"{hid} deactivated")

        for everyone in ((), ("--everyone",)):
            result, _ = await run_cli(
                stack,
                "summary",
                "--community",
                community,
                "--month",
                month,
                *everyone,
                "--wait",
                "10",
            )
            assert result == {"community_id": community, "month": month, "to_send": 0, "sent": 0}
        sent = await db.fetchval(
            "SELECT count(*) FROM event_log WHERE type = 'helper_summary_sent'"
            " AND body->>'helper_id' = $1",
            hid,
        )
        assert sent == 0 and not pushes(phones, "summary", hid)
    finally:
        await db.close()
