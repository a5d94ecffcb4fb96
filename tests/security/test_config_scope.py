"""Configuration as data (issue 14.1), attacked: a staff account scoped to community A
trying to change, take over or read B's configuration (its community document, bot,
secrets, push endpoints, audit) through every route, and the secrets of any entity being
read back through the API or the audit. Each attempt is refused and changes nothing."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.api.staff_accounts import token_hash
from dispatcher.config.secrets import new_secret
from dispatcher.testing.stack import LocalStack
from tests.support.waiting import eventually

A_TOKEN = secrets.token_urlsafe(32)
B_TOKEN = secrets.token_urlsafe(32)
B_BOT_SECRET = new_secret()
B_ENDPOINT_SECRET = new_secret()
B_ROBOT_TOKEN = secrets.token_hex(24)
ROOT = "/v1/admin/config"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


A, B, DISTRICT = bearer(A_TOKEN), bearer(B_TOKEN), bearer("dev-staff-token")

B_DOC: dict[str, Any] = {
    "community_id": "cfg-b",
    "display_name": "B社区",
    "push_endpoints": [
        {
            "name": "b-phones",
            "kind": "webhook",
            "url": "http://b-phones.example/b",  # a community's staff name public hosts only
            "secret": B_ENDPOINT_SECRET,
        },
        {
            "name": "community-cfg-b",
            "kind": "wecom",
            "url": "http://b-robot.example/robot",
            "token": B_ROBOT_TOKEN,
        },
    ],
    "contacts": [{"role": "property", "name": "物业", "endpoint": "community-cfg-b"}],
    "bots": [
        {
            "bot_id": "b-bot",
            "secrets": [B_BOT_SECRET],
            "groups": {"b-group": {"community_id": "cfg-b"}},
        }
    ],
}


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    staff_file = stack.root / "staff.json"
    staff_file.write_text(
        json.dumps(
            {
                "staff": [
                    {
                        "name": "staff-a",
                        "token_sha256": token_hash(A_TOKEN),
                        "communities": ["cfg-a"],
                    },
                    {
                        "name": "staff-b",
                        "token_sha256": token_hash(B_TOKEN),
                        "communities": ["cfg-b"],
                    },
                ]
            }
        )
    )
    stack.extra_env = {"DISPATCH_STAFF_FILE": str(staff_file)}
    stack.start_worker()  # the config recorder (the audit) runs in the worker
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as c:
        r = await c.put(f"{ROOT}/communities/cfg-b", json=B_DOC, headers=B)
        assert r.status_code == 200, r.text
        r = await c.put(f"{ROOT}/communities/cfg-a", json={"display_name": "A社区"}, headers=A)
        assert r.status_code == 200, r.text
    yield stack


async def b_config(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get(f"{ROOT}/communities/cfg-b", headers=B)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_cannot_change_or_read_bs_configuration(client: httpx.AsyncClient) -> None:
    before = await b_config(client)
    attempts = [
        ("PUT", f"{ROOT}/communities/cfg-b", {**B_DOC, "display_name": "taken"}),
        ("DELETE", f"{ROOT}/communities/cfg-b", None),
        # Take B's bot over into A, or mint a new secret for it (A would then hold it).
        ("PUT", f"{ROOT}/bots/b-bot", {"communities": ["cfg-a"]}),
        ("POST", f"{ROOT}/bots/b-bot/rotate", {"secret": new_secret()}),
        ("POST", f"{ROOT}/bots/b-bot/rotate", {}),
        ("DELETE", f"{ROOT}/bots/b-bot/previous-secrets", None),
        ("DELETE", f"{ROOT}/bots/b-bot", None),
        # A bot of A's that may also act in B.
        ("PUT", f"{ROOT}/bots/a-bot", {"communities": ["cfg-a", "cfg-b"]}),
        # B's endpoints: redirected, or claimed by name through A's own document.
        (
            "PUT",
            f"{ROOT}/endpoints/b-phones",
            {"kind": "webhook", "url": "http://evil.example/", "community_id": "cfg-a"},
        ),
        (
            "PUT",
            f"{ROOT}/endpoints/b-phones",
            {"kind": "webhook", "url": "http://evil.example/", "community_id": "cfg-b"},
        ),
        ("DELETE", f"{ROOT}/endpoints/community-cfg-b", None),
        (
            "PUT",
            f"{ROOT}/communities/cfg-a",
            {
                "display_name": "A",
                "push_endpoints": [
                    {"name": "b-phones", "kind": "webhook", "url": "http://evil.example/"}
                ],
            },
        ),
        (
            "PUT",
            f"{ROOT}/communities/cfg-a",
            {"display_name": "A", "bots": [{"bot_id": "b-bot", "secrets": [new_secret()]}]},
        ),
        # A district-wide endpoint (every community's helpers may name it).
        ("PUT", f"{ROOT}/endpoints/default", {"kind": "webhook", "url": "http://evil.example/"}),
    ]
    for method, path, body in attempts:
        r = await client.request(method, path, json=body, headers=A)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    for path in (
        f"{ROOT}/communities/cfg-b",
        ROOT,
        f"{ROOT}/history",
        f"{ROOT}/history?community_id=cfg-b",
    ):
        r = await client.get(path, headers=A)
        assert r.status_code == 403, (path, r.text)
    assert await b_config(client) == before
    everything = (await client.get(ROOT, headers=DISTRICT)).json()
    assert "a-bot" not in json.dumps(everything) and "default" not in json.dumps(everything)


async def test_secrets_never_come_back_in_get_or_the_audit(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    async def audited() -> list[Any] | None:
        rows = await db.fetch("SELECT * FROM config_audit WHERE 'cfg-b' = ANY(communities)")
        return rows if len(rows) >= 4 else None  # community, two endpoints, bot

    rows = await eventually(audited, what="B's audit rows")
    answers = [
        (await client.get(f"{ROOT}/communities/cfg-b", headers=B)).text,
        (await client.get(ROOT, headers=DISTRICT)).text,
        (await client.get(f"{ROOT}/history?community_id=cfg-b", headers=B)).text,
        json.dumps([dict(r) for r in rows], default=str),
        json.dumps([r[0] for r in await db.fetch("SELECT state::text FROM config_entities")]),
    ]
    shown = json.loads(answers[0])
    assert shown["bots"][0]["secrets"] == ["(set)"]
    assert {e["name"]: e.get("secret") or e.get("token") for e in shown["push_endpoints"]} == {
        "b-phones": "(set)",
        "community-cfg-b": "(set)",
    }
    for secret in (B_BOT_SECRET, B_ENDPOINT_SECRET, B_ROBOT_TOKEN):
        for text in answers:
            assert secret not in text and secret.removeprefix("whsec_") not in text
    # The audit says a secret was set, never what it is.
    bot_row = next(r for r in rows if r["kind"] == "bot")
    assert {"path": "secrets", "secret": "added"} in json.loads(bot_row["changes"])
