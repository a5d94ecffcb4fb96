"""Self-registration by invite link (握手行动) through the real parts: staff make a link,
a resident signs up on the page, staff approve → UpsertHelper and WelcomeHelper on Kafka →
the worker adds the helper → the welcome reaches the resident's chosen private channel (a
real local receiver). A rejected sign-up reaches nothing; decided sign-ups keep no phone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support.private_phones import phones_and_robot, pushes
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "reg-a"
PHONE = "13812345678"


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_and_robot(stack) as receiver:
        yield receiver


async def invite(client: httpx.AsyncClient, community: str = COMMUNITY) -> str:
    r = await client.post(
        f"/v1/staff/communities/{community}/invites",
        json={"compound_id": "c1", "compound_name": "图强小区", "valid_hours": 24},
        headers=STAFF,
    )
    assert r.status_code == 201, r.text
    return urlparse(r.json()["url"]).path


def form(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "张阿姨",
        "phone": PHONE,
        "building": "A座",
        "skills": ["driving", "first_aid"],
        "channel": "webhook:phones",
    } | overrides


async def pending(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/staff/communities/{COMMUNITY}/registrations", headers=STAFF)
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_invite_sign_up_approve_and_welcome(stack: LocalStack, phones: PushReceiver) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        path = await invite(client)
        page = await client.get(path)
        assert page.status_code == 200 and "图强小区" in page.text
        assert 'value="webhook:phones"' in page.text and "grid-robot" not in page.text

        done = await client.post(path, data=form())
        assert done.status_code == 200 and "已提交，谢谢您" in done.text, done.text
        # A second sign-up for the phone is kept and answered alike (the page tells nobody
        # whether a number signed up; the first may be whoever typed a neighbour's number).
        twice = await client.post(path, data=form(name="邻居"))
        assert twice.status_code == 200 and twice.text == done.text
        signup, twin = await pending(client)
        assert [(s["same_phone"], s["phone_tail"]) for s in (signup, twin)] == [(2, "5678")] * 2
        url = f"/v1/staff/communities/{COMMUNITY}/registrations/{twin['registration_id']}"
        assert (await client.post(f"{url}/reject", headers=STAFF)).status_code == 200
        assert PHONE not in json.dumps(signup) and signup["building_name"] == "A座"
        assert signup["helper_id"].startswith("h-") and PHONE not in signup["helper_id"]
        helper_id = signup["helper_id"]

        # Nothing reaches the roster before a decision.
        assert (
            await conn.fetchval("SELECT count(*) FROM helpers WHERE helper_id = $1", helper_id) == 0
        )
        rid = signup["registration_id"]
        r = await client.post(
            f"/v1/staff/communities/{COMMUNITY}/registrations/{rid}/approve", headers=STAFF
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"registration_id": rid, "status": "approved", "helper_id": helper_id}

        async def welcomed() -> list[Any]:
            return pushes(phones, "welcome", helper_id)

        [welcome] = await eventually(welcomed, what="the welcome push")
        assert "张阿姨" in welcome["text"] and welcome["personal_url"] in welcome["text"]
        assert (await client.get(urlparse(welcome["personal_url"]).path)).status_code == 200
        row = await conn.fetchrow(
            "SELECT status, profile, decided_by FROM helper_registrations"
            " WHERE registration_id = $1",
            rid,
        )
        assert (row["status"], row["profile"], row["decided_by"]) == (
            "approved",
            None,  # the phone is not kept once decided
            "staff-token",
        )
        again = await client.post(
            f"/v1/staff/communities/{COMMUNITY}/registrations/{rid}/approve", headers=STAFF
        )
        assert again.status_code == 409
        # The record agent writes the roster's row on its own time (the push may come first).
        await eventually(
            lambda: conn.fetchval("SELECT active FROM helpers WHERE helper_id = $1", helper_id),
            what="the helper recorded as active",
        )
        # Signing up again (same phone, same keyed id): approving would overwrite the
        # roster's profile with the form's, so it is refused; staff reject it instead.
        assert (await client.post(path, data=form(skills=["errands"]))).status_code == 200
        [again] = await pending(client)
        assert again["helper_id"] == helper_id and again["in_roster"] is True
        url = f"/v1/staff/communities/{COMMUNITY}/registrations/{again['registration_id']}"
        refused = await client.post(f"{url}/approve", headers=STAFF)
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"]["reason"] == "already_in_roster"
        assert (await client.post(f"{url}/reject", headers=STAFF)).status_code == 200
    await conn.close()


async def test_rejected_sign_up_reaches_nothing(stack: LocalStack, phones: PushReceiver) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        path = await invite(client)
        r = await client.post(path, data=form(name="路人", phone="13987654321", channel=""))
        assert r.status_code == 200, r.text
        [signup] = [s for s in await pending(client) if s["display_name"] == "路人"]
        rid = signup["registration_id"]
        r = await client.post(
            f"/v1/staff/communities/{COMMUNITY}/registrations/{rid}/reject", headers=STAFF
        )
        assert r.status_code == 200 and r.json()["status"] == "rejected"
        row = await conn.fetchrow(
            "SELECT status, profile FROM helper_registrations WHERE registration_id = $1", rid
        )
        assert (row["status"], row["profile"]) == ("rejected", None)
        n = await conn.fetchval(
            "SELECT count(*) FROM event_log WHERE body->>'helper_id' = $1", signup["helper_id"]
        )
        assert n == 0
    await conn.close()
