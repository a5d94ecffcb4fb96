"""Audit s43 F2 on the real stack (Kafka, PostgreSQL, the API and a worker): a community
whose whistle contact's endpoint is gone (written before such changes were refused: here
straight to the `config` topic). The staff API refuses removing an endpoint a contact is
reached through (409 `endpoint_in_use`); for the stale configuration the worker's whistle
reaches nobody, and says so: a warning naming the contact (role and name, no phone) and a
`staff_not_reached` whose reason is that the configured contacts are unreachable, not
"no duty or grid worker on the community's list". tests/unit/test_config_contacts_reached_s43.py
has the detail."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from dispatcher.config.follower import ConfigWriter
from dispatcher.push.deliveries import CONTACTS_UNREACHABLE
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from schemas.config import ConfigKind
from tests.integration.test_community_settings_live import EventLog
from tests.support import builders
from tests.support.config_records import old_record
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
LIVE = "comm-s43-live"  # configured through the API
STALE = "comm-s43-stale"  # stored before the refusals
CONTACT = "派出所值班"


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as r:
        yield r


@pytest.fixture(scope="module")
async def api(stack: LocalStack, receiver: PushReceiver) -> AsyncIterator[LocalStack]:
    # The ladder 100x faster: an unanswered urgent request reaches the whistle in seconds.
    stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = "0.01"
    stack.start_worker()
    await stack.start_api()
    yield stack


@pytest.fixture(scope="module")
async def events(api: LocalStack) -> AsyncIterator[EventLog]:
    async with EventLog(api.kafka_bootstrap, api.settings().events_topic) as log:
        yield log


async def test_the_api_refuses_removing_an_endpoint_a_contact_is_reached_through(
    api: LocalStack, client: httpx.AsyncClient, receiver: PushReceiver
) -> None:
    doc = {
        "display_name": "哨社区",
        "contacts": [{"role": "department", "name": CONTACT, "endpoint": "s43-police"}],
        "push_endpoints": [{"name": "s43-police", "kind": "webhook", "url": receiver.url("/p")}],
    }
    r = await client.put(f"/v1/admin/config/communities/{LIVE}", json=doc, headers=STAFF)
    assert r.status_code == 200, r.text
    r = await client.delete("/v1/admin/config/endpoints/s43-police", headers=STAFF)
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["reason"] == "endpoint_in_use"
    assert CONTACT in r.json()["detail"]["message"]
    shown = await client.get(f"/v1/admin/config/communities/{LIVE}", headers=STAFF)
    assert [e["name"] for e in shown.json()["push_endpoints"]] == ["s43-police"]


async def test_a_stale_contact_the_whistle_cannot_reach_is_said_not_silent(
    api: LocalStack, client: httpx.AsyncClient, events: EventLog, receiver: PushReceiver
) -> None:
    # Some endpoint exists (the worker pushes nothing, reports included, while none does).
    relay = {"kind": "webhook", "url": receiver.url("/relay"), "community_id": STALE}
    r = await client.put("/v1/admin/config/endpoints/s43-relay", json=relay, headers=STAFF)
    assert r.status_code == 200, r.text
    stale = {
        "community_id": STALE,
        "display_name": "旧社区",
        "contacts": [{"role": "department", "name": CONTACT, "endpoint": "s43-gone"}],
    }
    writer = ConfigWriter(api.settings())
    try:  # as the API wrote it before the refusals (or its endpoint removed since)
        await writer.write(old_record(ConfigKind.COMMUNITY, STALE, stale, (STALE,)))
    finally:
        await writer.close()

    async def stored() -> bool | None:
        r = await client.get(f"/v1/admin/config/communities/{STALE}", headers=STAFF)
        return True if (r.json().get("community") or {}).get("contacts") else None

    await eventually(stored, what="the stale community in the API's view")
    body = builders.request(STALE, source=None, urgency="urgent", category="errand", skills=[])
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    await events.first(rid, "whistle_blown", timeout=120)
    report = await events.first(rid, "staff_not_reached", timeout=60)
    assert report["reason"] == CONTACTS_UNREACHABLE
    assert report["recipients"] == 0

    async def warned() -> str | None:
        logs = "\n".join(p.log_path.read_text(errors="replace") for p in api.procs)
        lines = [line for line in logs.splitlines() if f"whistle {rid}" in line]
        return "\n".join(lines) or None

    said = await eventually(warned, what="the worker's warning")
    assert f"contact department '{CONTACT}' unreachable" in said
    assert "s43-gone" in said
