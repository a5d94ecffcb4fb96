"""What the accepted helper's pages say once they hold the request, gave it back or finished,
on the real stack (API and worker subprocesses, local Kafka and PostgreSQL). Session 42's
audit (H2) found:

- a helper reached only through a group robot (no private channel: no assignment push) who
  accepted on `/l/me` lost the request: the "confirming" page's refresh (a GET of the
  press's address) went to `/l/me`, which listed only offers still waiting, so the phone
  never showed the contact nor 我在路上 / 去不了了 / 已完成 again;
- a helper who pressed 已完成 while another slot kept the request open still saw the
  requester's phone and was told "请尽快联系并前往";
- after 去不了了 (or a staff no-show) the accept link still said "您已接下这次求助".
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.links import helper_link
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.held_ends import resolve
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.offers_recorded import offers_to
from tests.support.platform_flow import PHONE_SECRET
from tests.support.staff import DISTRICT, bearer, write_staff_file
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
COMMUNITY = "h10-s42"
REQUESTER_PHONE = "13912345678"
FORM = r'action="(/l/o/[^"]+/p/{step})"'
HELD_LINK = r'您已接下：[^<]*</p><p><a href="(/l/o/[^"]+)"'


def form_action(text: str, step: str) -> str | None:
    found = re.search(FORM.format(step=step), text)
    return found[1] if found else None


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    """Worker and API; a WeCom group robot (a local receiver); helpers hd1..hd3 reached
    privately (the default webhook), hg1 only through the group robot."""
    async with PushReceiver() as receiver:
        robot = {
            "name": "h10-robot",
            "kind": "wecom",
            "url": receiver.url("/cgi-bin/webhook/send"),
            "token": "KEY",
            "batch_window_seconds": 0,
        }
        phones = {
            "name": "default",
            "kind": "webhook",
            "url": receiver.url("/phones"),
            "secret": PHONE_SECRET,
        }
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([robot, phones])
        write_staff_file(stack, {})
        stack.start_worker("worker-h10")
        await stack.start_api()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as c:
            for hid, phone, channels in (
                ("hd1", "13800000021", ["webhook:default"]),
                ("hd2", "13800000022", ["webhook:default"]),
                ("hd3", "13800000023", ["webhook:default"]),
                ("hg1", "13800000024", ["wecom:h10-robot"]),
            ):
                body = builders.helper(hid, COMMUNITY, ["driving"], phone=phone, channels=channels)
                r = await c.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
                assert r.status_code == 202, r.text
        yield stack


async def _request(
    client: httpx.AsyncClient, db: asyncpg.Connection, helpers: tuple[str, ...], **extra: object
) -> tuple[str, dict[str, str]]:
    body = builders.request(COMMUNITY, source=None, **extra)
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    return rid, await offers_to(db, rid, helpers)


async def _assignment(db: asyncpg.Connection, rid: str, helper_id: str, what: str) -> None:
    async def recorded() -> bool:
        return bool(
            await db.fetchval(
                f"SELECT {what} FROM assignments WHERE request_id = $1 AND helper_id = $2",
                rid,
                helper_id,
            )
        )

    await eventually(recorded, what=f"{helper_id}: {what}")


async def test_group_helper_finds_their_accepted_request_again(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    """hg1 answers on /l/me with the phone their personal link bound. The press's address
    opened again (the 202's refresh) shows the outcome with the contact on that phone only;
    /l/me lists the held request (no contact there) with a link to its page, which has the
    contact and the buttons; once 已完成, /l/me no longer lists it."""
    async with (
        httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=NAVIGATION) as phone,
        httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=NAVIGATION) as other,
    ):
        personal = helper_link(
            api.settings(push_endpoints=[]), helper_id="hg1", community_id=COMMUNITY
        )
        bound = await phone.get(httpx.URL(personal).raw_path.decode())
        assert bound.status_code == 200, bound.text
        rid, offers = await _request(phone, db, ("hg1",), helpers_needed=1)
        offer = offers["hg1"]
        assert offer in (await phone.get("/l/me")).text
        answer = await phone.post(f"/l/me/offers/{offer}/accept")
        assert answer.status_code in (200, 202), answer.text
        await _assignment(db, rid, "hg1", "true")
        try:
            # Old: 303 to /l/me (the press's address has no GET), which no longer listed it.
            refreshed = await phone.get(f"/l/me/offers/{offer}/accept")
            assert refreshed.status_code == 200, (refreshed.status_code, refreshed.text)
            assert REQUESTER_PHONE in refreshed.text, refreshed.text
            # Another browser (no bound phone, no accepting cookie): the answer page, no contact.
            elsewhere = await other.get(f"/l/me/offers/{offer}/accept?c={COMMUNITY}")
            assert elsewhere.status_code == 303, elsewhere.text
            assert elsewhere.headers["location"] == f"/l/me?c={COMMUNITY}"
            assert REQUESTER_PHONE not in elsewhere.text

            mine = await phone.get("/l/me")
            assert mine.status_code == 200, mine.text
            assert REQUESTER_PHONE not in mine.text, "contact on the list page"
            held = re.search(HELD_LINK, mine.text)
            assert held, mine.text
            shown = await phone.get(held[1])
            assert shown.status_code == 200 and REQUESTER_PHONE in shown.text, shown.text
            done = form_action(shown.text, "done")
            assert done and form_action(shown.text, "cant-come"), shown.text
            # The held link forwarded: opened elsewhere it is bound to hg1's phone already.
            forwarded = await other.get(held[1])
            assert REQUESTER_PHONE not in forwarded.text, forwarded.text

            pressed = await phone.post(done)
            assert pressed.status_code in (200, 202), pressed.text
            await _assignment(db, rid, "hg1", "done_at IS NOT NULL")
            after = await phone.get("/l/me")
            assert not re.search(HELD_LINK, after.text), after.text
        finally:
            await resolve(phone, db, rid)


async def test_done_helper_no_longer_sees_the_contact_nor_is_told_to_go(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    """hd1 takes one of two slots, presses 已完成: the request stays open (one slot left).
    Old: the page still showed the phone and "请尽快联系并前往" above "您已标记完成"."""
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=NAVIGATION) as phone:
        rid, offers = await _request(phone, db, ("hd1",), helpers_needed=2)
        link = offer_path(api, COMMUNITY, rid, offers["hd1"], "hd1")
        accepted = await press(phone, link)
        assert accepted.status_code == 200 and REQUESTER_PHONE in accepted.text, accepted.text
        done = form_action(accepted.text, "done")
        assert done, accepted.text
        pressed = await phone.post(done, data={"minutes": "20"})
        assert pressed.status_code in (200, 202), pressed.text
        await _assignment(db, rid, "hd1", "done_at IS NOT NULL")
        assert await db.fetchval(
            "SELECT closed_at IS NULL FROM requests WHERE request_id = $1", rid
        ), "the request should still be open (one slot left)"
        try:
            page = await phone.get(link)
            assert page.status_code == 200, page.text
            assert "您已完成这次帮助" in page.text and "您已标记完成（20分钟）" in page.text
            assert "请尽快联系并前往" not in page.text, page.text
            assert REQUESTER_PHONE not in page.text, "contact shown after 已完成"
            assert not form_action(page.text, "cant-come"), page.text
        finally:
            await resolve(phone, db, rid)


async def test_withdrawn_helper_is_not_told_they_hold_it(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    """hd2 presses 去不了了 on an open request. Old: the accept link then said "您已接下这次
    求助。求助现已结束或有变化" though it is open and no longer theirs."""
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=NAVIGATION) as phone:
        rid, offers = await _request(phone, db, ("hd2",), helpers_needed=1)
        link = offer_path(api, COMMUNITY, rid, offers["hd2"], "hd2")
        accepted = await press(phone, link)
        cant = form_action(accepted.text, "cant-come")
        assert cant, accepted.text
        gone = await phone.post(cant)
        assert gone.status_code in (200, 202), gone.text
        await _assignment(db, rid, "hd2", "released_at IS NOT NULL")
        try:
            page = await phone.get(link)
            assert page.status_code == 200, page.text
            assert "您已点过“去不了了”，这次求助不再由您负责" in page.text, page.text
            assert "您已接下这次求助" not in page.text, page.text
            assert "求助现已结束" not in page.text, page.text  # it is open
            assert REQUESTER_PHONE not in page.text
        finally:
            await resolve(phone, db, rid)


async def test_helper_staff_marked_absent_is_told_so(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    """Staff release hd3 as a no-show: the accept link says staff recorded it, not that
    hd3 holds the request nor that hd3 pressed 去不了了."""
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=NAVIGATION) as phone:
        rid, offers = await _request(phone, db, ("hd3",), helpers_needed=1)
        link = offer_path(api, COMMUNITY, rid, offers["hd3"], "hd3")
        accepted = await press(phone, link)
        assert accepted.status_code == 200 and REQUESTER_PHONE in accepted.text, accepted.text
        r = await phone.post(
            f"/ops/v1/requests/{rid}/helpers/hd3/no-show", headers=bearer(DISTRICT)
        )
        assert r.status_code == 202, r.text
        await _assignment(db, rid, "hd3", "released_why = 'no_show'")
        try:
            page = await phone.get(link)
            assert page.status_code == 200, page.text
            assert "社区工作人员已登记您这次未能前往" in page.text, page.text
            assert "您已接下这次求助" not in page.text and "去不了了" not in page.text
            assert REQUESTER_PHONE not in page.text
        finally:
            await resolve(phone, db, rid)
