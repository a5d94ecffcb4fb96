"""Helper self-registrations through the real join page and staff's registrations API, for
the integration tests of what a sign-up keeps (`tests/support/private_phones.py`'s
`phones_and_robot` configures the private channel `CHANNEL`)."""

from __future__ import annotations

from typing import Any

import httpx

from dispatcher.testing.stack import LocalStack
from tests.integration.test_one_phone_one_helper_f4 import join_path

STAFF = {"Authorization": "Bearer dev-staff-token"}
CHANNEL = "webhook:phones"  # a private channel phones_and_robot configures


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


async def listed(client: httpx.AsyncClient, community: str, status: str) -> list[dict[str, Any]]:
    r = await client.get(f"{registrations(community)}?status={status}", headers=STAFF)
    assert r.status_code == 200, r.text
    return list(r.json())


async def decide(
    client: httpx.AsyncClient, community: str, rid: str, action: str
) -> httpx.Response:
    return await client.post(f"{registrations(community)}/{rid}/{action}", headers=STAFF)
