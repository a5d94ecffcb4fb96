"""Squatting push-endpoint names, attacked through the in-process staff API: community A's
staff claim names that route B's whistle and referral (`community-<B>…`) or every
community's channel-less helpers (`default`), as endpoints A owns. Refused with 403 and a
reason; A's own names and a district account's are let through the scope check (this
API has no Kafka: 409 `config_fixed` is what comes after it)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.staff_accounts import token_hash
from dispatcher.config.secrets import new_secret
from dispatcher.settings import Settings
from tests.support.in_process import api_client
from tests.unit.test_api_clock import RecordingSink

A_TOKEN = secrets.token_urlsafe(32)
DISTRICT = "district-" + "x" * 40
ROOT = "/v1/admin/config"
WEBHOOK = {"kind": "webhook", "url": "http://relay.example/in", "secret": new_secret()}
TOKENS = {"staff-a": A_TOKEN, "district": DISTRICT}


class AuditPool:
    """The staff audit's writes (auth.py) go nowhere: no PostgreSQL in unit tests."""

    async def execute(self, *args: Any, **kwargs: Any) -> None: ...

    async def executemany(self, *args: Any, **kwargs: Any) -> None: ...


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    staff = tmp_path / "staff.json"
    account = {"name": "staff-a", "token_sha256": token_hash(A_TOKEN), "communities": ["cfg-a"]}
    staff.write_text(json.dumps({"staff": [account]}))
    settings = Settings(staff_token=DISTRICT, staff_file=staff)
    deps = ApiDeps(settings=settings, sink=RecordingSink(), _pool=AuditPool())  # type: ignore[arg-type]
    async with api_client(create_app(settings, deps)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("community-cfg-b.duty.x", "wrong_community"),  # B's referral's first choice
        ("community-cfg-b.duty", "wrong_community"),
        ("community-cfg-b", "wrong_community"),  # B's group robot
        ("default", "reserved_endpoint"),  # every community's channel-less helpers
    ],
)
async def test_a_cannot_take_a_name_that_routes_other_communities_messages(
    client: httpx.AsyncClient, name: str, reason: str
) -> None:
    body = {**WEBHOOK, "community_id": "cfg-a"}
    r = await client.put(f"{ROOT}/endpoints/{name}", json=body, headers=bearer(A_TOKEN))
    assert r.status_code == 403, r.text
    assert r.json()["detail"]["reason"] == reason
    # Nor through A's own community document.
    doc = {"display_name": "A", "push_endpoints": [{**WEBHOOK, "name": name}]}
    r = await client.put(f"{ROOT}/communities/cfg-a", json=doc, headers=bearer(A_TOKEN))
    assert r.status_code == 403, r.text
    assert r.json()["detail"]["reason"] == reason


@pytest.mark.parametrize(
    ("account", "name", "owner"),
    [
        ("staff-a", "community-cfg-a.duty", "cfg-a"),
        ("staff-a", "community-cfg-a", "cfg-a"),
        ("staff-a", "a-phones", "cfg-a"),
        ("district", "default", None),
        ("district", "community-cfg-b.duty", "cfg-b"),
    ],
)
async def test_own_names_and_district_staff_pass_the_scope_check(
    client: httpx.AsyncClient, account: str, name: str, owner: str | None
) -> None:
    body = {**WEBHOOK, "community_id": owner}
    r = await client.put(f"{ROOT}/endpoints/{name}", json=body, headers=bearer(TOKENS[account]))
    assert (r.status_code, r.json()["detail"]["reason"]) == (409, "config_fixed"), r.text
