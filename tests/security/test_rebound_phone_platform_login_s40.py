"""Session 40: in a community with a platform login, the offer links' gate
(dispatcher/api/platform_login/gate.py) took the phone's cookie (`DEVICE_COOKIE`, 180 days)
alone as the helper. Since session 39 that cookie counts only beside the helper's current
personal-link binding (`offer_binding.bound_phone`): `/l/me` and the personal page checked
it, the gate did not. So a phone the binding had moved from - staff ran `personal-link
--release` and the helper's new phone opened the link, or staff sent a newer link - kept
opening the helper's offer links without the platform's login, accepting as the helper and
seeing the requester's phone; and so did any browser the cookie was copied to.

Now the gate asks `bound_phone` as the helper pages do: such a phone is nobody, sent to the
platform's login (302) when opening, refused (401) when pressing, no contact shown. Real
worker and API, real PostgreSQL, the platform played by the local fake."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx

from dispatcher.api import personal_link_cli
from dispatcher.clock import utcnow
from dispatcher.links import DEVICE_COOKIE, device_binding, helper_link, verify_token
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.security.test_platform_login import (  # noqa: F401 (the module's fixtures)
    community,
    fake,
    offer_link,
    phones,
    settings_of,
)
from tests.support.login_flow import PHONE, browser
from tests.support.waiting import eventually

NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}  # a phone's browser
HELPER = "feishu-1"  # on the roster with a Feishu user id (test_platform_login's `phones`)


async def refused_as_helper(
    stack: LocalStack, phone: httpx.AsyncClient, path: str, db: asyncpg.Connection
) -> None:
    """`phone` is not the helper on the offer link `path`: opening it goes to the platform's
    login, pressing it is refused, neither shows the requester's phone or assigns."""
    opened = await phone.get(path)
    assert opened.status_code == 302, opened.text  # to the platform's login, not the page
    assert PHONE not in opened.text and "我可以去帮忙" not in opened.text
    pressed = await phone.post(path)
    assert pressed.status_code == 401, pressed.text
    assert PHONE not in pressed.text
    offer_id = verify_token(settings_of(stack), path.removeprefix("/l/o/"), utcnow()).offer_id
    used = "SELECT count(*) FROM api_link_uses WHERE offer_id = $1"
    assert await db.fetchval(used, offer_id) == 0  # no accept or decline went out


async def test_a_phone_the_binding_moved_from_is_not_the_helper_on_offer_links(
    stack: LocalStack,
    phones: PushReceiver,  # noqa: F811
) -> None:
    path = await offer_link(stack, phones, "feishu", HELPER)
    settings = settings_of(stack)
    where = community("feishu")
    welcome = utcnow() - timedelta(seconds=60)  # sent before staff's newer link below
    link = helper_link(settings, helper_id=HELPER, community_id=where, now=welcome)
    personal = httpx.URL(link).raw_path.decode()
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        active = "SELECT active FROM helpers WHERE helper_id = $1"
        await eventually(lambda: db.fetchval(active, HELPER), what="the helper recorded")
        async with browser(stack) as a, browser(stack) as b, browser(stack) as c:
            # Phone A opens the helper's personal link: bound, and the helper there.
            opened = await a.get(personal, headers=NAVIGATE)
            assert opened.status_code == 200 and DEVICE_COOKIE in opened.cookies
            page = await a.get(path)
            assert page.status_code == 200 and "我可以去帮忙" in page.text
            # The helper changed phone: staff free the binding, phone B opens the link.
            freed = await personal_link_cli.run(settings, where, HELPER, release=True)
            assert freed == {"released": True}
            assert (await b.get(personal, headers=NAVIGATE)).status_code == 200
            assert (await b.get(path)).status_code == 200
            # Phone A still carries its 180-day phone cookie: it is no longer the helper.
            assert DEVICE_COOKIE in a.cookies
            await refused_as_helper(stack, a, path, db)
            # Staff send a newer link instead, phone C opens it: B stops being the helper.
            given = await personal_link_cli.run(settings, where, HELPER, release=False)
            fresh = httpx.URL(str(given["personal_url"])).raw_path.decode()
            assert (await c.get(fresh, headers=NAVIGATE)).status_code == 200
            await refused_as_helper(stack, b, path, db)
            # The phone's cookie copied to another browser, alone: nobody either.
            copied = device_binding(settings, HELPER, where, utcnow())
            async with browser(stack) as thief:
                thief.cookies.set(DEVICE_COOKIE, copied, path="/l/")
                await refused_as_helper(stack, thief, path, db)
            # The helper's current phone still needs no login: it accepts, sees the contact.
            assert (await c.post(path)).status_code in (200, 202)

            async def contact_on_c() -> bool:
                return PHONE in (await c.get(path)).text

            await eventually(contact_on_c, what="the contact on the helper's current phone")
            assert PHONE not in (await a.get(path)).text
            assert PHONE not in (await b.get(path)).text
    finally:
        await db.close()
