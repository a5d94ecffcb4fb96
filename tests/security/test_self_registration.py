"""Self-registration and the welcome (issue 14 item 3), attacked on the real API and
PostgreSQL: an expired or forged invite signs nobody up; staff of one community cannot see,
approve or reject another community's sign-ups; a resident cannot choose a group robot as
"their" channel (their welcome, with the personal link that acts as them, would be posted
to the whole group); an edited personal link opens nothing."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.api.invites import invite_token
from dispatcher.api.staff_accounts import token_hash
from dispatcher.clock import utcnow
from dispatcher.links import helper_link
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack

STAFF = {"Authorization": "Bearer dev-staff-token"}  # district-wide
LI = secrets.token_urlsafe(32)  # staff of sec-reg-x only
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
MINE, THEIRS = "sec-reg-x", "sec-reg-y"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    staff_file = stack.root / "staff.json"
    doc = {"staff": [{"name": "li", "token_sha256": token_hash(LI), "communities": [MINE]}]}
    staff_file.write_text(json.dumps(doc))
    endpoints = [
        {"name": "phones", "kind": "webhook", "url": "http://127.0.0.1:9/p", "secret": SECRET},
        {"name": "grid-robot", "kind": "wecom", "url": "http://127.0.0.1:9/r", "token": "KEY"},
    ]
    stack.extra_env["DISPATCH_STAFF_FILE"] = str(staff_file)
    stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps(endpoints)
    await stack.start_api()
    yield stack


def settings_of(api: LocalStack, **overrides: object) -> Settings:
    """The API's settings (its link secret); the endpoint list is the API's business."""
    return api.settings(push_endpoints=[], **overrides)


FORM = {
    "name": "张三",
    "phone": "13800000007",
    "building": "3号楼",
    "channel": "",
    "compound": "图强小区",
}


async def signups(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM helper_registrations"))


async def test_expired_and_forged_invites_sign_nobody_up(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    settings = settings_of(api)
    now = utcnow()
    expired = invite_token(settings, community_id=MINE, expires_at=now - timedelta(seconds=1))
    good = invite_token(settings, community_id=MINE, expires_at=now + timedelta(hours=1))
    body, mac = good.split(".")
    edited = ("B" if body[0] != "B" else "C") + body[1:] + "." + mac
    other_key = invite_token(
        settings_of(api, link_secret="another-secret-" + "x" * 32),
        community_id=MINE,
        expires_at=now + timedelta(hours=1),
    )
    # A helper's personal link is signed with the same secret: it must not pass as an invite.
    personal = urlparse(
        helper_link(settings, helper_id="h-x", community_id=MINE, now=now)
    ).path.rsplit("/", 1)[1]
    before = await signups(db)
    for token, status in ((expired, 410), (edited, 400), (other_key, 400), (personal, 400)):
        assert (await client.get(f"/join/{token}")).status_code == status
        r = await client.post(f"/join/{token}", data=FORM)
        assert r.status_code == status and "张三" not in r.text
    assert await signups(db) == before
    assert (await client.post(f"/join/{good}", data=FORM)).status_code == 200  # the control
    assert await signups(db) == before + 1


async def test_staff_of_another_community_cannot_see_or_decide_a_sign_up(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    r = await client.post(f"/v1/staff/communities/{THEIRS}/invites", json={}, headers=STAFF)
    assert r.status_code == 201, r.text
    join = urlparse(r.json()["url"]).path
    form = FORM | {"phone": "13800000008"}
    assert (await client.post(join, data=form)).status_code == 200
    rid = await db.fetchval(
        "SELECT registration_id FROM helper_registrations WHERE community_id = $1", THEIRS
    )
    li = {"Authorization": f"Bearer {LI}"}
    theirs = f"/v1/staff/communities/{THEIRS}/registrations"
    assert (await client.get(theirs, headers=li)).status_code == 403
    for action in ("approve", "reject"):
        r = await client.post(f"{theirs}/{rid}/{action}", headers=li)
        assert r.status_code == 403, r.text
        # Through the community li may act in: the sign-up is not found there.
        r = await client.post(
            f"/v1/staff/communities/{MINE}/registrations/{rid}/{action}", headers=li
        )
        assert r.status_code == 404, r.text
    assert (
        await client.post(f"/v1/staff/communities/{THEIRS}/invites", json={}, headers=li)
    ).status_code == 403
    row = await db.fetchrow(
        "SELECT status, profile IS NOT NULL AS kept FROM helper_registrations"
        " WHERE registration_id = $1",
        rid,
    )
    assert (row["status"], row["kept"]) == ("pending", True)  # undecided, nothing sent
    # The control: li decides in li's own community.
    r = await client.post(f"/v1/staff/communities/{MINE}/invites", json={}, headers=li)
    assert r.status_code == 201


async def test_a_resident_cannot_choose_a_group_robot_as_their_channel(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    token = invite_token(
        settings_of(api), community_id=MINE, expires_at=utcnow() + timedelta(hours=1)
    )
    page = await client.get(f"/join/{token}")
    assert "grid-robot" not in page.text and "webhook:phones" in page.text
    before = await signups(db)
    for channel in ("wecom:grid-robot", "grid-robot", "webhook:nowhere"):
        form = FORM | {"phone": "13800000009", "channel": channel}
        r = await client.post(f"/join/{token}", data=form)
        assert r.status_code == 422, (channel, r.text)
    assert await signups(db) == before


async def test_an_edited_personal_link_opens_nothing(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    url = helper_link(settings_of(api), helper_id="h-y", community_id=MINE, now=utcnow())
    path = urlparse(url).path
    assert (await client.get(path)).status_code == 200  # the control
    body, mac = path.rsplit("/", 1)[1].split(".")
    for bad in (body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac, body + "." + mac[:-2]):
        r = await client.get(f"/l/h/{bad}")
        assert r.status_code == 400 and "dispatch_helper" not in r.headers.get("set-cookie", "")
