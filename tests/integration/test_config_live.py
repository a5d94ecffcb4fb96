"""Configuration as data, live (issue 14.1), through the real parts: the CLI and the staff
API write the `config` topic; the running API and worker follow it. Nothing is restarted:
a new bot is refused, then (configured) accepted and its request's offers reach the new
endpoint; a rotated secret keeps the old one verifying until it is dropped; a changed
endpoint URL takes the next push. The audit says who changed what, and never a secret."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.config.secrets import new_secret
from dispatcher.settings import REPO_ROOT
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import bound_payload, sign
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-cfg"
BOT = "cfg-bot"
ENDPOINT = "cfg-phones"
PREGNANT = "我怀孕六个月，突然肚子疼，谁能开车送我去医院？"
BOT_SECRET = new_secret()
ENDPOINT_SECRET = new_secret()
ROTATED: list[str] = []  # the secret the rotation created (the audit test checks it too)


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as r:
        yield r


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    # The ladder 100x faster, so an unanswered request reaches the whistle in seconds.
    stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = "0.01"
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        for hid in ("cfg-d1", "cfg-d2", "cfg-d3"):
            body = builders.helper(
                hid,
                COMMUNITY,
                ["driving"],
                place=builders.place(COMMUNITY),
                channels=[f"webhook:{ENDPOINT}"],
            )
            r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
            assert r.status_code == 202, r.text
    yield stack


def cli(api: LocalStack, *args: str) -> Any:
    """`python -m dispatcher config ...` as an operator runs it (the harness's env)."""
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", "config", *args],
        env=api.env(),
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def document(url: str) -> dict[str, Any]:
    return {
        "community_id": COMMUNITY,
        "display_name": "配置社区",
        "hotlines": [{"label": "社区值班", "number": "0592-1234567"}],
        "plan": "standard",
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "grids": [
            {
                "grid_id": "g1",
                "name": "一网格",
                "compounds": [
                    {
                        "compound_id": "c1",
                        "name": "图强小区",
                        "buildings": [{"building_id": "b3", "name": "3号楼"}],
                    }
                ],
            }
        ],
        "contacts": [
            {"role": "grid_worker", "name": "网格员小林", "endpoint": ENDPOINT, "grid_id": "g1"}
        ],
        "push_endpoints": [
            {"name": ENDPOINT, "kind": "webhook", "url": url, "secret": ENDPOINT_SECRET}
        ],
        "bots": [
            {
                "bot_id": BOT,
                "secrets": [BOT_SECRET],
                "groups": {
                    "cfg-b3": {
                        "community_id": COMMUNITY,
                        "grid_id": "g1",
                        "compound_id": "c1",
                        "building_id": "b3",
                        "compound_name": "图强小区",
                    }
                },
            }
        ],
    }


async def say(client: httpx.AsyncClient, text: str, secret: str) -> httpx.Response:
    body = json.dumps(
        {
            "group_id": "cfg-b3",
            "message_id": f"m-{uuid.uuid4().hex}",
            "sender": {"id": "wx-1", "name": "王女士"},
            "text": text,
        },
        ensure_ascii=False,
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-bot-id": BOT,
        **sign(bound_payload("POST", "/v1/messages", body), secret=secret),
    }
    return await client.post("/v1/messages", content=body, headers=headers)


async def offers_at(receiver: PushReceiver, path: str, request_id: str) -> None:
    def arrived() -> bool:
        return any(
            r.json().get("data", {}).get("request_id") == request_id
            for r in receiver.for_path(path)
        )

    await receiver.wait_for(arrived, timeout=60)


async def ask_and_close(
    client: httpx.AsyncClient, receiver: PushReceiver, path: str, secret: str
) -> str:
    r = await say(client, PREGNANT, secret)
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    await offers_at(receiver, path, rid)
    # Closed, so the next ask is a new request rather than merged into this one.
    closed = await client.post(
        f"/v1/requests/{rid}/cancel", json={"request_id": rid}, headers=STAFF
    )
    assert closed.status_code == 202, closed.text
    return str(rid)


async def test_a_community_configured_live_without_restarts(
    api: LocalStack, client: httpx.AsyncClient, receiver: PushReceiver, tmp_path: Path
) -> None:
    pids = [p.popen.pid for p in api.procs]
    assert (await say(client, "今天天气不错", BOT_SECRET)).status_code == 401  # unknown bot

    doc = tmp_path / "community.yaml"
    import yaml

    doc.write_text(yaml.safe_dump(document(receiver.url("/phones-a")), allow_unicode=True))
    applied = cli(api, "apply", str(doc))
    assert sorted(applied["changed"]) == [
        f"bot/{BOT}",
        f"community/{COMMUNITY}",
        f"endpoint/{ENDPOINT}",
    ]
    assert cli(api, "apply", str(doc))["changed"] == []  # idempotent: nothing to change

    await ask_and_close(client, receiver, "/phones-a", BOT_SECRET)

    # Rotation: the old secret verifies until it is dropped.
    rotated = cli(api, "rotate-bot", BOT)
    fresh = rotated["new_secrets"][f"bot/{BOT}"]
    ROTATED.append(fresh)
    assert (await say(client, "今天天气不错", BOT_SECRET)).status_code == 200
    assert (await say(client, "今天天气不错", fresh)).status_code == 200
    cli(api, "drop-previous", BOT)
    assert (await say(client, "今天天气不错", BOT_SECRET)).status_code == 401
    assert (await say(client, "今天天气不错", fresh)).status_code == 200

    # A new URL for the endpoint: the next push goes there (its secret is kept).
    cli(
        api,
        "set-endpoint",
        ENDPOINT,
        "--kind",
        "webhook",
        "--url",
        receiver.url("/phones-b"),
        "--community",
        COMMUNITY,
    )
    rid = await ask_and_close(client, receiver, "/phones-b", fresh)
    old_url = [
        r for r in receiver.for_path("/phones-a") if r.json()["data"].get("request_id") == rid
    ]
    assert old_url == []  # nothing of the new request went to the old URL

    assert all(p.alive() for p in api.procs) and [p.popen.pid for p in api.procs] == pids


async def test_the_audit_says_who_changed_what_and_never_a_secret(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    async def recorded() -> list[Any] | None:
        rows = await db.fetch("SELECT * FROM config_audit WHERE $1 = ANY(communities)", COMMUNITY)
        return rows if len(rows) >= 5 else None

    rows = await eventually(recorded, what="the audit rows")
    history = cli(api, "history", "--community", COMMUNITY)["changes"]
    assert {h["actor"] for h in history} == {"staff-token"}
    by_kind: dict[str, list[Any]] = {}
    for h in history:
        by_kind.setdefault(h["kind"], []).append(h)
    rotations = [
        h for h in by_kind["bot"] if {"path": "secrets", "secret": "changed"} in h["changes"]
    ]
    assert len(rotations) == 2  # rotated, then the previous one dropped
    url_changes = [c for h in by_kind["endpoint"] for c in h["changes"] if c["path"] == "url"]
    assert url_changes and url_changes[0]["after"].endswith("/phones-b")
    created = next(h for h in by_kind["community"] if h["changes"])
    assert {"path": "display_name", "before": None, "after": "配置社区"} in created["changes"]

    shown = (await client.get(f"/v1/admin/config/communities/{COMMUNITY}", headers=STAFF)).text
    entities = await db.fetch("SELECT state::text FROM config_entities")
    logs = "".join(p.log_path.read_text(errors="replace") for p in api.procs)
    every = [
        json.dumps(history),
        json.dumps([dict(r) for r in rows], default=str),
        shown,
        json.dumps([r[0] for r in entities]),
        logs,
    ]
    for secret in (BOT_SECRET, ENDPOINT_SECRET, ROTATED[0]):
        for where in every:
            assert secret not in where and secret.removeprefix("whsec_") not in where
    assert '"(set)"' in shown


async def test_the_whistle_reaches_a_recipient_configured_while_running(
    api: LocalStack, client: httpx.AsyncClient, receiver: PushReceiver
) -> None:
    """A department contact (the grid worker) added to the running community: the worker's
    next whistle there reaches it, through an endpoint that did not exist at its start."""
    pids = [p.popen.pid for p in api.procs]
    cli(
        api,
        "set-endpoint",
        "cfg-grid-worker",
        "--kind",
        "webhook",
        "--url",
        receiver.url("/grid-worker"),
        "--community",
        COMMUNITY,
    )
    contacts = {
        "display_name": "配置社区",
        "contacts": [
            {
                "role": "grid_worker",
                "name": "网格员小林",
                "endpoint": "cfg-grid-worker",
                "grid_id": "g1",
            }
        ],
    }
    r = await client.put(f"/v1/admin/config/communities/{COMMUNITY}", json=contacts, headers=STAFF)
    assert r.status_code == 200, r.text
    asked = await say(client, PREGNANT, ROTATED[0])
    assert asked.status_code == 202, asked.text
    rid = asked.json()["request_id"]

    def whistled() -> bool:
        return any(
            w.json()["type"] == "push.whistle" and w.json()["data"].get("request_id") == rid
            for w in receiver.for_path("/grid-worker")
        )

    await receiver.wait_for(whistled, timeout=120)  # nobody answers: the ladder climbs
    closed = await client.post(
        f"/v1/requests/{rid}/cancel", json={"request_id": rid}, headers=STAFF
    )
    assert closed.status_code == 202, closed.text
    assert [p.popen.pid for p in api.procs] == pids and all(p.alive() for p in api.procs)
