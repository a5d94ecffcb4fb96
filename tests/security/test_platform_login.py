"""Finding 1, the platform login: a helper whose roster row has a chat-platform user id
(平台账号) acts on an offer only as that platform user. The offer link the notify agent
pushes names the id (sealed); opening it inside WeCom / DingTalk / Feishu goes through the
platform's OAuth; only that user may accept, decline, or see the contact again.

Each attack is performed against the real API and worker (real Kafka, PostgreSQL) with the
platforms played by local fakes that answer as documented (tests/support/platform_fakes.py):
a forwarded link opened by another platform user, forged and replayed codes, a login CSRF
(callback without or with another browser's state), a session cookie carried to another
helper's link, and a GET of an accepted offer by anyone but the accepting helper's session.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from dispatcher.api.platform_login import tokens
from dispatcher.links import helper_link, verify_token
from dispatcher.settings import Settings
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders, stack_db
from tests.support import platform_fakes as pf
from tests.support.held_ends import resolve
from tests.support.login_flow import browser, cookie_attrs, login, serve_with_logins
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
PHONE = "13912345678"
ADDRESS = "3号楼2单元501"
USERS = {
    "wecom": "zhangjg",
    "dingtalk": "manager4711",
    "feishu": "ou_7d8a6e6df7621556ce0d21922b676706",
}
OTHER = "lisi"  # another member of the same chat group, with the same app
REASON = "x-refusal-reason"


def settings_of(stack: LocalStack) -> Settings:
    """The API's secrets (the JSON-valued settings are not needed to check links)."""
    return stack.settings(push_endpoints=[], platform_logins=[])


def community(kind: str) -> str:
    return f"sec-login-{kind}"


@pytest.fixture(scope="module")
def fake() -> Iterator[pf.FakePlatforms]:
    with pf.FakePlatforms() as f:
        yield f


@pytest.fixture(scope="module")
async def phones(stack: LocalStack, fake: pf.FakePlatforms) -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as receiver:
        endpoint = {
            "name": "phones",
            "kind": "webhook",
            "url": receiver.url("/p"),
            "secret": SECRET,
        }
        communities = {k: [community(k)] for k in USERS}
        await serve_with_logins(stack, fake, endpoint, communities, "worker-login")
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as staff:
            for kind, user in USERS.items():
                for hid, uid in ((f"{kind}-1", user), (f"{kind}-2", OTHER), (f"{kind}-0", None)):
                    body = builders.helper(
                        hid, community(kind), ["driving"], channels=["phones"], platform_user_id=uid
                    )
                    r = await staff.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
                    assert r.status_code == 202, r.text
        yield receiver


db = stack_db.conn  # a connection to the module's namespace (no module `api` here)


async def offer_link(stack: LocalStack, phones: PushReceiver, kind: str, helper_id: str) -> str:
    """Open a request in the platform's community; the pushed accept link's path for `helper_id`."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as staff:
        body = builders.request(community(kind), source=None)
        r = await staff.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]

    def pushed() -> list[dict[str, object]]:
        found = []
        for m in phones.for_path("/p"):
            data = m.json()["data"]
            mine = data.get("recipient") == helper_id and data.get("request_id") == rid
            if data.get("kind") == "offer" and mine:
                found.append(data)
        return found

    await phones.wait_for(lambda: bool(pushed()), timeout=60)
    return httpx.URL(str(pushed()[0]["accept_url"])).raw_path.decode()


@pytest.mark.parametrize("kind", list(USERS))
async def test_the_helper_logs_in_through_the_platform_and_accepts(
    stack: LocalStack,
    phones: PushReceiver,
    fake: pf.FakePlatforms,
    db: asyncpg.Connection,
    kind: str,
) -> None:
    path = await offer_link(stack, phones, kind, f"{kind}-1")
    claims = verify_token(settings_of(stack), path.removeprefix("/l/o/"), datetime.now(UTC))
    assert claims.platform_user_id == USERS[kind]  # the notify agent sealed the roster's id
    assert USERS[kind] not in path
    async with browser(stack) as phone:
        answer, _ = await login(phone, path, USERS[kind])
        assert answer.status_code == 303 and answer.headers["location"] == path
        session = cookie_attrs(answer, tokens.SESSION_COOKIE)
        assert session["max-age"] == str(settings_of(stack).login_session_seconds) == "900"
        assert session["httponly"] and session["samesite"].lower() == "lax"
        page = await phone.get(path)
        assert page.status_code == 200 and "我可以去帮忙" in page.text
        accepted = await phone.post(path)
        assert accepted.status_code in (200, 202), accepted.text

        async def shown() -> bool:
            return PHONE in (await phone.get(path)).text

        await eventually(shown, what="the contact for the helper's own session")
    # The request ends (resolved): the helper, who went in person, is free for the offers
    # the later tests open for them.
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as staff:
        await resolve(staff, db, str(claims.request_id))
    rows = await db.fetch(
        "SELECT outcome, helper_id FROM platform_logins WHERE platform = $1 AND outcome = 'ok'",
        kind,
    )
    assert {r["helper_id"] for r in rows} == {f"{kind}-1"}
    raw = json.dumps(
        [dict(r) for r in await db.fetch("SELECT * FROM platform_logins")], default=str
    )
    assert USERS[kind] not in raw  # no platform ids (nor codes) in the audit rows


async def test_a_forwarded_link_opened_by_another_platform_user_is_refused(
    stack: LocalStack, phones: PushReceiver, db: asyncpg.Connection
) -> None:
    path = await offer_link(stack, phones, "wecom", "wecom-1")
    async with browser(stack) as member:
        refused, _ = await login(member, path, OTHER)  # lisi opens zhangjg's link
        assert refused.status_code == 403 and refused.headers[REASON] == "not_the_helper"
        assert not cookie_attrs(refused, tokens.SESSION_COOKIE)
        posted = await member.post(path)  # and presses the button anyway
        assert posted.status_code == 401 and posted.headers[REASON] == "login_required"
    claims = verify_token(settings_of(stack), path.removeprefix("/l/o/"), datetime.now(UTC))
    assert (
        await db.fetchval("SELECT count(*) FROM api_link_uses WHERE offer_id = $1", claims.offer_id)
        == 0
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM platform_logins"
            " WHERE helper_id = 'wecom-1' AND outcome = 'not_the_helper'"
        )
        >= 1
    )


@pytest.mark.parametrize("kind", list(USERS))
async def test_forged_and_replayed_codes_are_refused(
    stack: LocalStack, phones: PushReceiver, kind: str
) -> None:
    path = await offer_link(stack, phones, kind, f"{kind}-1")
    code_name = "authCode" if kind == "dingtalk" else "code"
    async with browser(stack) as phone, browser(stack) as thief:
        started = await phone.get(path)
        state_cookie = phone.cookies.get(tokens.STATE_COOKIE)
        assert state_cookie
        nonce = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        forged = await phone.get(
            f"/l/login/{kind}/callback", params={code_name: "f" * 32, "state": nonce}
        )
        assert forged.status_code == 403 and forged.headers[REASON] == "code_refused"
        async with httpx.AsyncClient(follow_redirects=False) as platform:
            back = await platform.get(
                started.headers["location"], headers={pf.APP_USER_HEADER: USERS[kind]}
            )
        callback = httpx.URL(back.headers["location"])
        ok = await phone.get(callback.raw_path.decode())
        assert ok.status_code == 303
        # The callback URL replayed: in a browser that has the same state cookie (a copy of
        # the helper's cookies), and in one without it.
        thief.cookies.set(tokens.STATE_COOKIE, state_cookie, path="/l/")
        again = await thief.get(callback.raw_path.decode())
        assert again.status_code == 403 and again.headers[REASON] == "code_replayed"
        assert not cookie_attrs(again, tokens.SESSION_COOKIE)
    async with browser(stack) as stranger:
        bare = await stranger.get(callback.raw_path.decode())
        assert bare.status_code == 403 and bare.headers[REASON] == "state_missing"


async def test_login_csrf_state_is_checked(
    stack: LocalStack, phones: PushReceiver, fake: pf.FakePlatforms
) -> None:
    """The attacker logs in as themselves, stops before the callback, and makes the helper's
    browser open the callback URL (login CSRF): refused without the matching state cookie."""
    path = await offer_link(stack, phones, "feishu", "feishu-1")
    async with browser(stack) as attacker, browser(stack) as victim:
        first = await attacker.get(path)
        async with httpx.AsyncClient(follow_redirects=False) as platform:
            back = await platform.get(
                first.headers["location"], headers={pf.APP_USER_HEADER: USERS["feishu"]}
            )
        planted = httpx.URL(back.headers["location"]).raw_path.decode()
        await victim.get(path)  # the victim's own login under way: another nonce
        mismatch = await victim.get(planted)
        assert mismatch.status_code == 403 and mismatch.headers[REASON] == "state_mismatch"
        victim.cookies.set(tokens.STATE_COOKIE, "e30.AAAA", path="/l/")  # a forged state cookie
        forged = await victim.get(planted)
        assert forged.status_code == 403 and forged.headers[REASON] == "state_missing"
        no_state = await victim.get("/l/login/feishu/callback?code=x")
        assert no_state.status_code == 403


async def test_the_session_is_bound_to_its_helper_and_short_lived(
    stack: LocalStack, phones: PushReceiver
) -> None:
    mine = await offer_link(stack, phones, "wecom", "wecom-1")
    theirs = await offer_link(stack, phones, "wecom", "wecom-2")
    async with browser(stack) as phone:
        ok, _ = await login(phone, mine, USERS["wecom"])
        assert ok.status_code == 303
        value = phone.cookies.get(tokens.SESSION_COOKIE)
        # zhangjg's session on lisi's link (in the same group): not theirs to answer. The
        # button: 403 at once; opening it: the platform is asked again, and says zhangjg.
        posted = await phone.post(theirs)
        assert posted.status_code == 403 and posted.headers[REASON] == "not_the_helper"
        opened, _ = await login(phone, theirs, USERS["wecom"])
        assert opened.status_code == 403 and opened.headers[REASON] == "not_the_helper"
        assert phone.cookies.get(tokens.SESSION_COOKIE) == value  # still only zhangjg's
    settings = settings_of(stack)
    now = datetime.now(UTC)
    assert tokens.read_session(settings, value, now) is not None
    assert tokens.read_session(settings, value, now + timedelta(seconds=901)) is None


async def test_an_accepted_offer_shows_the_contact_only_to_the_helpers_session(
    stack: LocalStack, phones: PushReceiver, db: asyncpg.Connection
) -> None:
    path = await offer_link(stack, phones, "dingtalk", "dingtalk-1")
    async with browser(stack) as phone:
        ok, _ = await login(phone, path, USERS["dingtalk"])
        assert ok.status_code == 303
        assert (await phone.post(path)).status_code in (200, 202)

        async def shown() -> bool:
            return PHONE in (await phone.get(path)).text

        await eventually(shown, what="the contact for the accepting helper")
    async with browser(stack) as nobody, browser(stack) as other, browser(stack) as second:
        plain = await nobody.get(path)  # a forwarded link, opened outside any login
        assert plain.status_code == 302 and PHONE not in plain.text and ADDRESS not in plain.text
        refused, _ = await login(other, path, OTHER)
        assert refused.status_code == 403 and PHONE not in refused.text
        again = await other.get(path)  # the refused browser has no session either
        assert PHONE not in again.text and ADDRESS not in again.text
        # The same helper on a second phone: the platform says it is them.
        ok, _ = await login(second, path, USERS["dingtalk"])
        assert ok.status_code == 303 and PHONE in (await second.get(path)).text
    offer_id = verify_token(
        settings_of(stack), path.removeprefix("/l/o/"), datetime.now(UTC)
    ).offer_id
    views = await db.fetch("SELECT helper_id FROM contact_views WHERE offer_id = $1", offer_id)
    assert len(views) >= 2 and {v["helper_id"] for v in views} == {"dingtalk-1"}


async def test_a_helper_without_a_platform_id_keeps_the_signed_link(
    stack: LocalStack, phones: PushReceiver
) -> None:
    path = await offer_link(stack, phones, "wecom", "wecom-0")
    claims = verify_token(settings_of(stack), path.removeprefix("/l/o/"), datetime.now(UTC))
    assert claims.platform_user_id is None
    async with browser(stack) as phone:
        page = await phone.get(path)
        assert page.status_code == 200 and "我可以去帮忙" in page.text  # no login redirect
        assert (await phone.post(path)).status_code in (200, 202)

        async def shown() -> bool:
            return PHONE in (await phone.get(path)).text

        await eventually(shown, what="the contact on the accepting device")


async def test_the_helpers_bound_phone_needs_no_platform_login(
    stack: LocalStack, phones: PushReceiver
) -> None:
    """The other identity the issue allows: the phone bound once through the helper's own
    private personal link. Another helper's bound phone is still sent to the login."""
    path = await offer_link(stack, phones, "feishu", "feishu-1")
    settings = settings_of(stack)
    async with browser(stack) as own, browser(stack) as neighbours:
        for phone, hid in ((own, "feishu-1"), (neighbours, "feishu-2")):
            personal = helper_link(settings, helper_id=hid, community_id=community("feishu"))
            # Opened as a navigation (a phone's browser): a preview binds nothing since f05ced5.
            navigate = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
            opened = await phone.get(httpx.URL(personal).raw_path.decode(), headers=navigate)
            assert opened.status_code == 200
        page = await own.get(path)
        assert page.status_code == 200 and "我可以去帮忙" in page.text
        assert (await neighbours.get(path)).status_code == 302  # to the platform's login
        assert (await neighbours.post(path)).status_code == 401
