"""Blind SSRF through the staff API: community A's staff point an endpoint, a bot's reply
robot, a Feishu `api_base` or DingTalk's session-webhook prefix at an address inside the
deployment (the cloud's metadata service, loopback in its legacy spellings, the LAN), which
the worker or the API would then POST to, signed. Refused with 403 `internal_address`; a
public address, and district staff (who run the deployment: a LAN relay is supported), pass
the check (this API has no Kafka: 409 `config_fixed` is what comes after it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatcher.config.outbound import internal_host
from dispatcher.config.secrets import new_secret
from tests.unit.test_config_endpoint_names import A_TOKEN, DISTRICT, ROOT, bearer, client

__all__ = ["client"]  # the fixture, shared

INSIDE = [
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:6066/stats",
    "http://127.1:5432/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:10.0.0.5]/",
    "http://10.1.2.3/in",
    "http://192.168.1.20/in",
    "http://localhost:8080/",
    "http://100.64.0.1/",
]


def endpoint(url: str) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "secret": new_secret(), "community_id": "cfg-a"}


def bot(url: str) -> dict[str, Any]:
    robot = {"name": "r", "kind": "wecom", "url": url, "token": "t"}
    return {"communities": ["cfg-a"], "secrets": [new_secret()], "robots": {"g1": robot}}


def feishu_bot(url: str) -> dict[str, Any]:
    # Keyed: outside dev mode a Feishu bot without its Encrypt Key is refused first (d576326).
    platform = {"kind": "feishu", "verification_token": "v", "encrypt_key": "k", "api_base": url}
    return {"communities": ["cfg-a"], "platform": platform}


def dingtalk_bot(url: str) -> dict[str, Any]:
    platform = {"kind": "dingtalk", "app_secret": "s", "session_webhook_prefixes": [url]}
    return {"communities": ["cfg-a"], "platform": platform}


WRITES = [("endpoints/a-relay", endpoint), ("bots/a-bot", bot)]
WRITES += [("bots/a-feishu", feishu_bot), ("bots/a-dingtalk", dingtalk_bot)]


@pytest.mark.parametrize("url", INSIDE)
@pytest.mark.parametrize(("path", "body"), WRITES, ids=[p for p, _ in WRITES])
async def test_a_communitys_staff_cannot_point_the_service_inside(
    client: httpx.AsyncClient, path: str, body: Any, url: str
) -> None:
    r = await client.put(f"{ROOT}/{path}", json=body(url), headers=bearer(A_TOKEN))
    assert r.status_code == 403, r.text
    assert r.json()["detail"]["reason"] == "internal_address"


async def test_nor_through_their_community_document(client: httpx.AsyncClient) -> None:
    relay = {**endpoint(INSIDE[0]), "name": "a-relay"}
    doc = {"display_name": "A", "push_endpoints": [relay]}
    r = await client.put(f"{ROOT}/communities/cfg-a", json=doc, headers=bearer(A_TOKEN))
    assert (r.status_code, r.json()["detail"]["reason"]) == (403, "internal_address"), r.text


@pytest.mark.parametrize(
    ("token", "url"),
    [
        (A_TOKEN, "https://relay.example.org/in"),
        (A_TOKEN, "http://8.8.8.8/in"),
        (DISTRICT, "http://10.1.2.3/in"),
        (DISTRICT, "http://127.0.0.1:8089/phones"),
    ],
)
async def test_public_addresses_and_district_staff_pass(
    client: httpx.AsyncClient, token: str, url: str
) -> None:
    r = await client.put(f"{ROOT}/endpoints/a-relay", json=endpoint(url), headers=bearer(token))
    assert (r.status_code, r.json()["detail"]["reason"]) == (409, "config_fixed"), r.text


def test_every_spelling_of_an_inside_address_is_caught_and_names_are_not() -> None:
    assert all(internal_host(u) for u in INSIDE)
    assert not any(internal_host(u) for u in ("https://open.feishu.cn", "http://relay.example/"))
