"""Garbage and schema-invalid messages on `commands` are dead-lettered with a reason and their
position; the agent keeps consuming, so the next valid request is still dispatched."""

from __future__ import annotations

import base64
import json

import asyncpg
import httpx

from dispatcher.testing.stack import LocalStack
from schemas.dead_letter import DeadLetter
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def test_poison_messages_are_dead_lettered_and_dispatch_goes_on(stack: LocalStack) -> None:
    stack.start_worker()
    stack.bot_communities.add("poison")
    await stack.start_api()
    env = stack.env()
    community = "poison"
    garbage = b"\x00\xff\xfe not json at all \x81"
    invalid = json.dumps(
        {
            "v": 1,
            "command_id": "x",
            "community_id": community,
            "issued_at": "2026-11-21T08:00:00Z",
            "body": {"type": "submit_request", "spec": {"urgency": "soon"}},
        }
    ).encode()
    unknown_type = json.dumps(
        {
            "v": 1,
            "command_id": "y",
            "community_id": community,
            "issued_at": "2026-11-21T08:00:00Z",
            "body": {"type": "launch_rocket"},
        }
    ).encode()
    async with CommandProducer(stack.kafka_bootstrap, env["DISPATCH_COMMANDS_TOPIC"]) as producer:
        for payload in (garbage, invalid, unknown_type):
            await producer.send_raw(community, payload)

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        h = builders.helper("d1", community, ["driving"])
        assert (await client.put("/v1/admin/helpers/d1", json=h, headers=STAFF)).status_code == 202
        r = await BotClient(client).post("/v1/requests", builders.request(community))
        assert r.status_code == 202
        request_id = r.json()["request_id"]

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await eventually(
            lambda: conn.fetchrow("SELECT 1 FROM offers WHERE request_id = $1", request_id),
            what="the valid request after the poison to be dispatched",
        )
    finally:
        await conn.close()

    records = await read_topic(stack.kafka_bootstrap, env["DISPATCH_DEAD_LETTER_TOPIC"], until=3)
    letters = [DeadLetter.model_validate_json(r.value) for r in records]
    assert len(letters) == 3
    by_payload = {base64.b64decode(letter.payload_b64): letter for letter in letters}
    assert set(by_payload) == {garbage, invalid, unknown_type}  # bytes survive intact
    for letter in letters:
        assert letter.source_topic == env["DISPATCH_COMMANDS_TOPIC"]
        assert letter.stage == "decode" and letter.offset >= 0
        assert letter.reason.startswith("undecodable command")
    assert "urgency" in by_payload[invalid].reason or "spec" in by_payload[invalid].reason
    assert (
        "launch_rocket" in by_payload[unknown_type].reason
        or "type" in by_payload[unknown_type].reason
    )
