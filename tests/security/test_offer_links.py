"""Finding 1: a forwarded accept link no longer shows the requester's phone and address
again (the contact is shown in the accepting answer and later only on the device that
accepted, by a cookie the answer sets; every showing is recorded for audit), and a link's
claims are encrypted (a bystander cannot read whose link it is). A forwarded link is also
bound to the device that used it first: test_offer_device_binding.py performs that attack;
group messages carry no per-helper link (test_group_offers.py)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from dispatcher.links import LinkTampered, action_links, offer_token, verify_token
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "sec-links"
PHONE = "13912345678"
ADDRESS = "3号楼2单元501"


async def test_a_forwarded_accepted_link_shows_no_contact(stack: LocalStack) -> None:
    stack.start_worker("worker-links")
    await stack.start_api()
    helper_phone = httpx.AsyncClient(base_url=stack.api_url, timeout=15)
    bystander = httpx.AsyncClient(base_url=stack.api_url, timeout=15)  # another group member
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        h = builders.helper("k1", COMMUNITY, ["driving"])
        assert (await helper_phone.put("/v1/admin/helpers/k1", json=h, headers=STAFF)).is_success
        body = builders.request(COMMUNITY, source=None)
        r = await helper_phone.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]

        async def offer() -> str | None:
            value = await conn.fetchval("SELECT offer_id FROM offers WHERE request_id = $1", rid)
            return str(value) if value else None

        offer_id = await eventually(offer, what="the offer")
        url = action_links(
            stack.settings(),
            request_id=rid,
            offer_id=offer_id,
            helper_id="k1",
            community_id=COMMUNITY,
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
        )["accept"]
        path = httpx.URL(url).raw_path.decode()

        accepted = await helper_phone.post(path)
        assert accepted.status_code in (200, 202)

        async def shown() -> bool:  # the helper's own phone (the answer's refresh)
            return PHONE in (await helper_phone.get(path)).text

        await eventually(shown, what="the contact on the accepting phone")
        # The same link, forwarded into the group and opened or re-posted by someone else:
        # bound to the accepting phone, it shows another device nothing (409 / 403).
        for attempt, status in (
            (await bystander.get(path), 409),
            (await bystander.post(path), 403),
        ):
            assert attempt.status_code == status
            assert PHONE not in attempt.text and ADDRESS not in attempt.text
            assert attempt.headers["x-refusal-reason"] == "other_device"
        views = await conn.fetch(
            "SELECT helper_id, via FROM contact_views WHERE request_id = $1", rid
        )
        assert views and {v["helper_id"] for v in views} == {"k1"}
    finally:
        await helper_phone.aclose()
        await bystander.aclose()
        await conn.close()


def _bystander_reads(token: str) -> bytes:
    """What anyone who sees the link can decode without a key."""
    body = token.split(".")[0].lstrip("~")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def test_token_claims_are_not_readable_and_rotation_verifies_only() -> None:
    old = Settings(link_secret=SecretStr(secrets.token_hex(32)))
    new = Settings(
        link_secret=SecretStr(secrets.token_hex(32)),
        link_secrets_previous=[old.link_secret],
    )
    expires = datetime.now(UTC) + timedelta(minutes=10)
    args = {
        "action": "accept",
        "request_id": "req-visible?",
        "offer_id": "offer-visible?",
        "helper_id": "helper-k1",
        "community_id": "sec-links",
        "expires_at": expires,
    }
    token = offer_token(new, **args)  # type: ignore[arg-type]
    seen = _bystander_reads(token)
    for secret_part in (b"helper-k1", b"req-visible", b"offer-visible", b"sec-links", b'"k"'):
        assert secret_part not in seen
    assert verify_token(new, token, datetime.now(UTC)).helper_id == "helper-k1"
    # Rotation: a link from before still verifies; new links never use the old secret.
    from_before = offer_token(old, **args)  # type: ignore[arg-type]
    assert verify_token(new, from_before, datetime.now(UTC)).offer_id == "offer-visible?"
    with pytest.raises(LinkTampered):
        verify_token(old, token, datetime.now(UTC))
    retired = Settings(link_secret=new.link_secret)  # the old secret dropped
    with pytest.raises(LinkTampered):
        verify_token(retired, from_before, datetime.now(UTC))
