"""Helper self-registrations through the real join page (an invite to it) and staff's
registrations API, for the integration tests of what a sign-up keeps
(`tests/support/private_phones.py`'s `phones_and_robot` configures the private channel
`CHANNEL`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from dispatcher.api.invites import invite_token
from dispatcher.clock import utcnow
from dispatcher.testing.stack import LocalStack

STAFF = {"Authorization": "Bearer dev-staff-token"}
CHANNEL = "webhook:phones"  # a private channel phones_and_robot configures


def join_path(api: LocalStack, community: str, expires_in: timedelta = timedelta(hours=1)) -> str:
    """The join page of `community`'s compound c1 (图强小区), its invite valid `expires_in`."""
    token = invite_token(
        api.settings(push_endpoints=[]),
        community_id=community,
        compound_id="c1",
        compound_name="图强小区",
        expires_at=utcnow() + expires_in,
    )
    return f"/join/{token}"


def registrations(community: str) -> str:
    return f"/v1/staff/communities/{community}/registrations"


def form(name: str, phone: str, building: str) -> dict[str, Any]:
    return {
        "name": name,
        "phone": phone,
        "building": building,
        "skills": ["errands"],
        "channel": CHANNEL,
    }


async def sign_up(
    api: LocalStack, client: httpx.AsyncClient, community: str, data: dict[str, Any]
) -> None:
    r = await client.post(join_path(api, community), data=data)
    assert r.status_code == 200 and "已提交" in r.text, r.text


async def listed(
    client: httpx.AsyncClient, community: str, status: str | None = None
) -> list[dict[str, Any]]:
    """The registrations staff see (those with `status`; without one, what the API lists)."""
    query = "" if status is None else f"?status={status}"
    r = await client.get(f"{registrations(community)}{query}", headers=STAFF)
    assert r.status_code == 200, r.text
    return list(r.json())


async def decide(
    client: httpx.AsyncClient, community: str, rid: str, action: str
) -> httpx.Response:
    return await client.post(f"{registrations(community)}/{rid}/{action}", headers=STAFF)
