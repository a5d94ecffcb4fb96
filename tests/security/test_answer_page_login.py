"""Finding 1, the answer page for group offers (/l/me): group robots post offers that carry
no per-helper secret, only `/l/me?c=<community>`. Opening it inside WeCom / DingTalk /
Feishu signs the helper in through the platform (the roster's 平台账号 says which helper
the platform's user is); the page lists that helper's open offers, and answering one needs
that identity.

The attacks, against the real API and worker (real Kafka, PostgreSQL), a real local HTTP
server as the group robot, and the platforms played by local fakes: the group message
forwarded and opened by another member (sees only their own offers) or by someone the
roster does not list (refused), forged and replayed codes, and another helper's session
pressing an offer's button.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from dispatcher.api.platform_login import tokens
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support import platform_fakes as pf
from tests.support.held_ends import resolve
from tests.support.login_flow import PHONE, browser, cookie_attrs, login, serve_with_logins
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
ROBOT = "/cgi-bin/webhook/send"
USERS = {"wecom": "zhangjg", "dingtalk": "manager4711", "feishu": "ou_7d8a6e6df7621556"}
OTHER = "lisi"  # another member of the same group, on the roster as the community's -2
STRANGER = "wangwu"  # a member of the corp the community's roster does not list
REASON = "x-refusal-reason"


def community(kind: str) -> str:
    return f"sec-me-{kind}"


@pytest.fixture(scope="module")
def fake() -> Iterator[pf.FakePlatforms]:
    with pf.FakePlatforms() as f:
        yield f


@pytest.fixture(scope="module")
async def robot(stack: LocalStack, fake: pf.FakePlatforms) -> AsyncIterator[PushReceiver]:
    """Worker and API with every helper reached through one WeCom group robot."""
    async with PushReceiver() as receiver:
        endpoint = {"name": "grid-robot", "kind": "wecom", "url": receiver.url(ROBOT)}
        endpoint |= {"token": "KEY", "batch_window_seconds": 0}
        communities = {k: [community(k)] for k in USERS}
        await serve_with_logins(stack, fake, endpoint, communities, "worker-answer-login")
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as staff:
            for kind, user in USERS.items():
                for hid, uid, phone in (
                    (f"{kind}-1", user, "13800000001"),
                    (f"{kind}-2", OTHER, "13800000002"),
                ):
                    body = builders.helper(
                        hid,
                        community(kind),
                        ["driving"],
                        phone=phone,
                        channels=["wecom:grid-robot"],
                        platform_user_id=uid,
                    )
                    r = await staff.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
                    assert r.status_code == 202, r.text
        yield receiver


@pytest.fixture
def api(stack: LocalStack, robot: PushReceiver) -> LocalStack:
    return stack  # running, seeded: tests/conftest.py's `db` connects to it


async def group_offers(
    stack: LocalStack, robot: PushReceiver, db: asyncpg.Connection, kind: str
) -> tuple[str, dict[str, str]]:
    """A request in the platform's community asking both helpers; the answer page's path
    from the group's message, and each helper's offer id."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as staff:
        body = builders.request(community(kind), source=None, helpers_needed=2)
        r = await staff.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]

    async def offer_of(helper_id: str) -> str | None:
        value = await db.fetchval(
            "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = $2", rid, helper_id
        )
        return str(value) if value else None

    helpers = (f"{kind}-1", f"{kind}-2")
    offers = {h: await eventually(lambda h=h: offer_of(h), what=f"{h}'s offer") for h in helpers}
    path = f"/l/me?c={community(kind)}"

    def group_text() -> str:
        return json.dumps([m.json() for m in robot.for_path(ROBOT)], ensure_ascii=False)

    # The group's link names only its community; no per-helper secret in any group message.
    await robot.wait_for(lambda: f"{stack.api_url}{path}" in group_text(), timeout=60)
    assert "/l/o/" not in group_text() and "/l/h/" not in group_text()
    return path, offers


@pytest.mark.parametrize("kind", list(USERS))
async def test_the_helper_signs_in_on_the_answer_page_and_accepts(
    stack: LocalStack, robot: PushReceiver, db: asyncpg.Connection, kind: str
) -> None:
    path, offers = await group_offers(stack, robot, db, kind)
    async with browser(stack) as phone:
        assert (await phone.get(path)).status_code == 302  # nobody yet: to the platform
        answer, _ = await login(phone, path, USERS[kind])
        assert answer.status_code == 303 and answer.headers["location"] == path
        assert cookie_attrs(answer, tokens.SESSION_COOKIE)["httponly"]
        listed = await phone.get(path)
        assert listed.status_code == 200
        assert offers[f"{kind}-1"] in listed.text and offers[f"{kind}-2"] not in listed.text
        accepted = await phone.post(f"/l/me/offers/{offers[f'{kind}-1']}/accept")
        assert accepted.status_code in (200, 202), accepted.text

        async def contact_shown() -> bool:
            again = await phone.post(f"/l/me/offers/{offers[f'{kind}-1']}/accept")
            return PHONE in again.text

        await eventually(contact_shown, what="the contact for the signed-in helper")
    # The request ends (resolved): the helper, who went in person, is free for the offers
    # the later tests open for them.
    accepted_offer = "SELECT request_id FROM offers WHERE offer_id = $1"
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as staff:
        await resolve(staff, db, await db.fetchval(accepted_offer, offers[f"{kind}-1"]))
    rows = await db.fetch(
        "SELECT helper_id FROM platform_logins WHERE platform = $1 AND outcome = 'ok'", kind
    )
    assert f"{kind}-1" in {r["helper_id"] for r in rows}  # the audit names who signed in
    raw = json.dumps(
        [dict(r) for r in await db.fetch("SELECT * FROM platform_accounts")], default=str
    )
    assert USERS[kind] not in raw and OTHER not in raw  # keyed hashes, no platform ids


async def test_a_forwarded_answer_page_shows_each_user_only_their_own_offers(
    stack: LocalStack, robot: PushReceiver, db: asyncpg.Connection
) -> None:
    path, offers = await group_offers(stack, robot, db, "wecom")
    async with browser(stack) as member, browser(stack) as stranger:
        ok, _ = await login(member, path, OTHER)  # lisi opens the group's link
        assert ok.status_code == 303
        listed = await member.get(path)
        assert offers["wecom-2"] in listed.text and offers["wecom-1"] not in listed.text
        refused, _ = await login(stranger, path, STRANGER)
        assert refused.status_code == 403 and refused.headers[REASON] == "not_a_member"
        assert not cookie_attrs(refused, tokens.SESSION_COOKIE)
        for offer in offers.values():
            r = await stranger.post(f"/l/me/offers/{offer}/accept")
            assert r.status_code == 401 and r.headers[REASON] == "login_required"
    n = await db.fetchval(
        "SELECT count(*) FROM api_link_uses WHERE offer_id = ANY($1::text[])", list(offers.values())
    )
    assert n == 0


@pytest.mark.parametrize("kind", list(USERS))
async def test_forged_and_replayed_codes_are_refused_on_the_answer_page(
    stack: LocalStack, robot: PushReceiver, db: asyncpg.Connection, kind: str
) -> None:
    path, _ = await group_offers(stack, robot, db, kind)
    code_name = "authCode" if kind == "dingtalk" else "code"
    async with browser(stack) as phone, browser(stack) as thief:
        started = await phone.get(path)
        state_cookie = phone.cookies.get(tokens.STATE_COOKIE)
        assert started.status_code == 302 and state_cookie
        nonce = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        forged = await phone.get(
            f"/l/login/{kind}/callback", params={code_name: "f" * 32, "state": nonce}
        )
        assert forged.status_code == 403 and forged.headers[REASON] == "code_refused"
        assert not cookie_attrs(forged, tokens.SESSION_COOKIE)
        async with httpx.AsyncClient(follow_redirects=False) as platform:
            back = await platform.get(
                started.headers["location"], headers={pf.APP_USER_HEADER: USERS[kind]}
            )
        callback = httpx.URL(back.headers["location"]).raw_path.decode()
        assert (await phone.get(callback)).status_code == 303
        thief.cookies.set(tokens.STATE_COOKIE, state_cookie, path="/l/")
        again = await thief.get(callback)
        assert again.status_code == 403 and again.headers[REASON] == "code_replayed"
        assert not cookie_attrs(again, tokens.SESSION_COOKIE)
        assert (await thief.get(path)).status_code == 302  # still nobody: to the platform


async def test_another_helpers_session_cannot_act(
    stack: LocalStack, robot: PushReceiver, db: asyncpg.Connection
) -> None:
    path, offers = await group_offers(stack, robot, db, "feishu")
    async with browser(stack) as lisi:
        ok, _ = await login(lisi, path, OTHER)
        assert ok.status_code == 303
        for action in ("accept", "decline"):
            r = await lisi.post(f"/l/me/offers/{offers['feishu-1']}/{action}")
            assert r.status_code == 404 and PHONE not in r.text
        # Its session cookie edited to name the other helper: not signed by us.
        session = lisi.cookies.get(tokens.SESSION_COOKIE)
        assert session
        edited = ("B" if session[0] == "A" else "A") + session[1:]
        lisi.cookies.set(tokens.SESSION_COOKIE, edited, path="/l/")
        r = await lisi.post(f"/l/me/offers/{offers['feishu-1']}/accept")
        assert r.status_code == 401
    n = await db.fetchval(
        "SELECT count(*) FROM api_link_uses WHERE offer_id = $1", offers["feishu-1"]
    )
    assert n == 0
    status = await db.fetchval("SELECT status FROM offers WHERE offer_id = $1", offers["feishu-1"])
    assert status == "sent"  # nothing reached the core for feishu-1


async def test_a_deactivated_helper_is_not_signed_in(
    stack: LocalStack, robot: PushReceiver, db: asyncpg.Connection
) -> None:
    path = f"/l/me?c={community('dingtalk')}"
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as staff:
        r = await staff.delete(
            f"/v1/admin/communities/{community('dingtalk')}/helpers/dingtalk-2", headers=STAFF
        )
        assert r.status_code == 202, r.text

    async def inactive() -> bool:
        active = await db.fetchval("SELECT active FROM helpers WHERE helper_id = 'dingtalk-2'")
        return active is False

    await eventually(inactive, what="dingtalk-2 deactivated")
    async with browser(stack) as phone:
        refused, _ = await login(phone, path, OTHER)
        assert refused.status_code == 403 and refused.headers[REASON] == "not_a_member"


async def test_a_helper_from_a_ledger_signs_in_with_their_platform_account(
    stack: LocalStack, robot: PushReceiver
) -> None:
    """The ledger's 平台账号 column reaches the answer page's login as the staff API's does."""
    kind = "wecom"
    ledger = "姓名,电话,楼栋,平台账号\n赵六,13800000009,3号楼,zhaoliu\n".encode()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as staff:
        r = await staff.post(
            f"/v1/admin/communities/{community(kind)}/roster",
            params={"compound_id": "c1", "retire": "false"},
            content=ledger,
            headers=STAFF | {"Content-Type": "text/csv"},
        )
        assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    path = f"/l/me?c={community(kind)}"

    async def signed_in() -> bool:  # once the worker has recorded the imported helper
        async with browser(stack) as phone:
            answer, _ = await login(phone, path, "zhaoliu")
            return answer.status_code == 303

    await eventually(signed_in, what="zhaoliu signed in on the answer page")
