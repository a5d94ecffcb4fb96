"""Finding 1, group robots: what a group sees, every member sees. The offer posted into a
WeCom group @-mentions the helper and carries no per-helper link; answering needs the phone
the helper bound once by opening their private personal link. The attacks: a group member
answers from the group message without a binding, and another bound helper answers an
offer that was not theirs. Real worker, real API, a real local HTTP server as the robot."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.links import helper_link
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.security.test_offer_device_binding import NAVIGATION
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "sec-group"
ROBOT = "/cgi-bin/webhook/send"


@pytest.fixture(scope="module")
async def receiver(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as receiver:
        endpoint = {
            "name": "grid-robot",
            "kind": "wecom",
            "url": receiver.url(ROBOT),
            "token": "KEY",
            "batch_window_seconds": 0,
        }
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([endpoint])
        stack.start_worker("worker-group")
        await stack.start_api()
        yield receiver


async def test_group_offers_carry_no_per_helper_link_and_need_a_bound_phone(
    stack: LocalStack, receiver: PushReceiver
) -> None:
    phone_k1 = httpx.AsyncClient(base_url=stack.api_url, timeout=15)
    phone_k2 = httpx.AsyncClient(base_url=stack.api_url, timeout=15)
    member = httpx.AsyncClient(base_url=stack.api_url, timeout=15)  # anyone in the group
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        for hid, phone in (("k1", "13800000001"), ("k2", "13800000002")):
            h = builders.helper(
                hid, COMMUNITY, ["driving"], phone=phone, channels=["wecom:grid-robot"]
            )
            assert (await member.put(f"/v1/admin/helpers/{hid}", json=h, headers=STAFF)).is_success
        r = await member.post(
            "/v1/requests",
            json=builders.request(COMMUNITY, source=None, helpers_needed=1),
            headers=STAFF,
        )
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]

        await receiver.wait_for(lambda: len(receiver.for_path(ROBOT)) >= 1, timeout=60)
        text = json.dumps([m.json() for m in receiver.for_path(ROBOT)], ensure_ascii=False)
        assert "/l/o/" not in text and "/l/h/" not in text  # no per-helper secret
        assert f"{stack.api_url}/l/me" in text
        assert "13800000001" in text  # the helper is @-mentioned by mobile

        async def offer_of(helper_id: str) -> str | None:
            value = await conn.fetchval(
                "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = $2",
                rid,
                helper_id,
            )
            return str(value) if value else None

        offer_k1 = await eventually(lambda: offer_of("k1"), what="k1's offer")
        # A group member without a bound phone: nothing listed, nothing accepted.
        assert (await member.get("/l/me")).status_code == 401
        r = await member.post(f"/l/me/offers/{offer_k1}/accept")
        assert r.status_code == 401 and "13912345678" not in r.text
        # k2 binds their own phone, then tries k1's offer: not theirs.
        for client, hid in ((phone_k1, "k1"), (phone_k2, "k2")):
            settings = stack.settings(push_endpoints=[])  # the env holds them as JSON text
            personal = helper_link(settings, helper_id=hid, community_id=COMMUNITY)
            # Opened as a person opens it (a preview binds nothing since session 39).
            path = httpx.URL(personal).raw_path.decode()
            assert (await client.get(path, headers=NAVIGATION)).status_code == 200
        r = await phone_k2.post(f"/l/me/offers/{offer_k1}/accept")
        assert r.status_code == 404 and "13912345678" not in r.text
        # k1's bound phone lists the offer and accepts it as k1.
        assert offer_k1 in (await phone_k1.get("/l/me")).text
        r = await phone_k1.post(f"/l/me/offers/{offer_k1}/accept")
        assert r.status_code in (200, 202), r.text

        async def contact_on_k1() -> bool:
            r = await phone_k1.post(f"/l/me/offers/{offer_k1}/accept")  # shows the outcome
            return "13912345678" in r.text

        await eventually(contact_on_k1, what="the contact on k1's phone")
        assigned = await conn.fetchval(
            "SELECT helper_id FROM assignments WHERE request_id = $1", rid
        )
        assert assigned == "k1"
    finally:
        for client in (phone_k1, phone_k2, member):
            await client.aclose()
        await conn.close()
