"""Session 39 audit, the most harmful finding: a helper's personal link (`/l/h/…`, sent in
their welcome, reusable for a year) forwarded to a friend handed the helper over. Opening it
gave any browser the cookie that says "this phone is the helper": the friend's phone then
listed the helper's offers on `/l/me`, passed the helper's *private* offer link that the
helper's own phone had bound (refused 409 a moment before), accepted as the helper and saw
the requester's phone and address, and could press "away".

Now the personal link is bound like a private offer link: the first browser that opens it
(as a navigation: a link preview binds nothing) or presses one of its buttons; any other is
refused (409 opening, 403 pressing) and gets no cookie. A newer link of the helper binds
anew (the older one stops), and staff free the binding when the helper changes phone.
Real worker and API (the first test), real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from dispatcher.api import personal_link_cli
from dispatcher.clock import utcnow
from dispatcher.links import DEVICE_COOKIE, device_binding, helper_link
from dispatcher.record.edge import helper_link_bindings
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.security.test_offer_device_binding import STAFF, client, offer_links
from tests.support import builders
from tests.support.private_phones import phones_and_robot
from tests.support.waiting import eventually

PHONE = "13912345678"
REFUSED = "另一部手机"


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_and_robot(stack) as receiver:
        yield receiver


def personal(stack: LocalStack, helper: str, community: str, later_s: int = 0) -> str:
    settings = stack.settings(push_endpoints=[])  # the env holds them as JSON text
    now = utcnow() + timedelta(seconds=later_s)
    url = helper_link(settings, helper_id=helper, community_id=community, now=now)
    return httpx.URL(url).raw_path.decode()


async def test_a_forwarded_personal_link_does_not_hand_the_helper_over(
    stack: LocalStack, phones: PushReceiver
) -> None:
    helper, community = f"fwd-{uuid.uuid4().hex[:8]}", "sec-fwd-personal"
    rid, links = await offer_links(stack, phones, community, [helper], needed=1)
    offer_id, accept = links[helper]["offer_id"], links[helper]["accept"]
    link = personal(stack, helper, community)
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        async with client(stack) as helpers_phone, client(stack) as friend:
            # The welcome arrives: the helper opens their personal link (bound), then their
            # private offer link (bound to the same phone).
            mine = await helpers_phone.get(link)
            assert mine.status_code == 200 and DEVICE_COOKIE in mine.cookies
            assert (await helpers_phone.get(accept)).status_code == 200
            assert (await friend.get(accept)).status_code == 409
            # The helper forwards the welcome to a friend: refused there, no cookie.
            opened = await friend.get(link)
            assert opened.status_code == 409 and REFUSED in opened.text, opened.text
            assert DEVICE_COOKIE not in opened.cookies and not friend.cookies
            assert (await friend.get("/l/me")).status_code == 401
            assert (await friend.get(accept)).status_code == 409
            r = await friend.post(f"/l/me/offers/{offer_id}/accept")
            assert r.status_code == 401 and PHONE not in r.text
            # 9 refusals with the opening: within the refusals' own burst (10).
            presses = (
                "away",
                "busy",
                "back",
                "on_call",
                "quiet-hours/clear",
                "away",
                "busy",
                "back",
            )
            for press in presses:
                r = await friend.post(f"{link}/{press}")
                assert r.status_code == 403 and REFUSED in r.text, (press, r.text)
            refused = await db.fetchval(
                "SELECT refused FROM helper_link_bindings WHERE helper_id = $1", helper
            )
            assert refused == 1 + len(presses)
            # The friend's presses spent nothing of the helper's own budget (5 at once).
            r = await helpers_phone.post(f"{link}/back")
            assert r.status_code == 200, r.text
            # A phone given the phone's cookie before links were bound (a forwarded link's,
            # before session 39) is nobody's: it needs the binding's own cookie beside it.
            settings = stack.settings(push_endpoints=[])
            leaked = device_binding(settings, helper, community, utcnow())
            async with client(stack) as old_friend:
                jar = {"Cookie": f"{DEVICE_COOKIE}={leaked}"}
                assert (await old_friend.get("/l/me", headers=jar)).status_code == 401
                assert (await old_friend.get(accept, headers=jar)).status_code == 409
                r = await old_friend.post(f"/l/me/offers/{offer_id}/accept", headers=jar)
                assert r.status_code == 401 and PHONE not in r.text
            # The helper's own phone still answers: it accepts and sees the contact.
            r = await helpers_phone.post(f"/l/me/offers/{offer_id}/accept")
            assert r.status_code in (200, 202), r.text

            async def contact_on_helpers_phone() -> bool:
                r = await helpers_phone.post(f"/l/me/offers/{offer_id}/accept")
                return PHONE in r.text

            await eventually(contact_on_helpers_phone, what="the contact on the helper's phone")
            assigned = await db.fetchval(
                "SELECT helper_id FROM assignments WHERE request_id = $1", rid
            )
            assert assigned == helper
            assert not await db.fetchval(
                "SELECT away FROM helpers WHERE helper_id = $1", helper
            )  # nobody pressed away for them
    finally:
        await db.close()


async def test_a_preview_binds_nothing_and_the_first_press_binds(stack: LocalStack) -> None:
    """A chat app's link preview (no Fetch Metadata) sees the page, gets no cookie and binds
    nothing; a browser that sends no Fetch Metadata is bound at its first press."""
    helper, community = f"prev-{uuid.uuid4().hex[:8]}", "sec-fwd-personal"
    link = personal(stack, helper, community)
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        async with client(stack, {}) as preview, client(stack, {}) as old_browser:
            shown = await preview.get(link)
            assert shown.status_code == 200 and "我的接单状态" in shown.text
            assert not shown.cookies and "这部手机已绑定" not in shown.text
            assert await helper_link_bindings.held(db, community, helper) is None
            # The helper's old browser presses first: bound, and gets the phone's cookie.
            pressed = await old_browser.post(f"{link}/back")
            assert pressed.status_code == 200 and DEVICE_COOKIE in pressed.cookies
            assert (await old_browser.get(link)).status_code == 200
            # The preview fetched again now: refused, still no cookie.
            again = await preview.get(link)
            assert again.status_code == 409 and not again.cookies
    finally:
        await db.close()


async def test_a_new_phone_after_staff_free_the_binding_or_send_a_newer_link(
    stack: LocalStack,
) -> None:
    helper, community = f"move-{uuid.uuid4().hex[:8]}", "sec-fwd-personal"
    link = personal(stack, helper, community)
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        async with client(stack) as old, client(stack) as new, client(stack) as third:
            assert (await old.get(link)).status_code == 200
            assert (await new.get(link)).status_code == 409
            # The helper changed phone: staff free the binding; the next phone is bound.
            assert await helper_link_bindings.release(db, community, helper)
            assert (await new.get(link)).status_code == 200
            assert (await old.get(link)).status_code == 409
            assert (await old.post(f"{link}/away")).status_code == 403
            # A newer link of theirs (a welcome sent again) binds the phone opening it; the
            # older link stops everywhere, and its page says to use the new one.
            newer = personal(stack, helper, community, later_s=60)
            assert (await third.get(newer)).status_code == 200
            assert (await new.get(newer)).status_code == 409
            stale = await new.get(link)
            assert stale.status_code == 410 and "新链接" in stale.text
            assert (await new.post(f"{link}/away")).status_code == 410
    finally:
        await db.close()


async def test_staff_give_a_helper_on_a_new_phone_a_new_link(stack: LocalStack) -> None:
    """What staff do when a helper changes phone (the welcome is sent once):
    `python -m dispatcher.api.personal_link_cli` prints a new link to send privately (the
    old one stops), or with `--release` frees the binding for the same link."""
    helper, community = f"cli-{uuid.uuid4().hex[:8]}", "sec-fwd-personal"
    settings = stack.settings(push_endpoints=[])
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        async with client(stack) as old, client(stack) as new, client(stack) as third:
            body = builders.helper(helper, community, ["driving"])
            r = await old.put(f"/v1/admin/helpers/{helper}", json=body, headers=STAFF)
            assert r.status_code == 202, r.text

            async def recorded() -> bool:
                return bool(
                    await db.fetchval("SELECT active FROM helpers WHERE helper_id = $1", helper)
                )

            await eventually(recorded, what="the helper recorded")
            link = personal(stack, helper, community, later_s=-60)  # the welcome, before
            assert (await old.get(link)).status_code == 200
            assert (await old.get("/l/me")).status_code == 200  # the helper's phone
            assert (await new.get(link)).status_code == 409
            given = await personal_link_cli.run(settings, community, helper, release=False)
            fresh = httpx.URL(str(given["personal_url"])).raw_path.decode()
            assert (await new.get(fresh)).status_code == 200
            assert (await old.get(link)).status_code == 410
            assert (await old.get(fresh)).status_code == 409
            # The old phone (lost, or given away) answers nothing as the helper any more.
            assert (await old.get("/l/me")).status_code == 401
            assert (await new.get("/l/me")).status_code == 200
            # --release: the same (new) link binds the next phone that opens it.
            assert await personal_link_cli.run(settings, community, helper, release=True) == {
                "released": True
            }
            assert (await third.get(fresh)).status_code == 200
            assert (await new.get(fresh)).status_code == 409
        nobody = await personal_link_cli.run(settings, community, "no-such-helper", release=True)
        assert nobody == {"error": "not_on_roster"}
    finally:
        await db.close()
