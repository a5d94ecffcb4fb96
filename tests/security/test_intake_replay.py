"""Replays of a signed help request, now that its webhook-id is claimed inside the one intake
statement (`api_submit_signed`, with the idempotency claim, the merge and the intake row).

Attacks and mishaps: the very same signed delivery sent again (a captured request replayed
within the 5-minute window), the same webhook-id on a new chat message (a bot bug), and a
replay while Kafka refuses sends. Each must be refused with 409 `replayed` before anything
is written (no intake row, no idempotency key, no stored answer handed back), and a failure
on our side must give back only a webhook-id that this request itself claimed. Real API,
PostgreSQL and Kafka; the refusal of Kafka is real (the namespace's commands topic deleted).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.record.edge import intake
from dispatcher.testing.stack import LocalStack
from tests.integration.test_intake_outbox import delete_topic
from tests.support import intake_edge as edge
from tests.support.bot import BOT_ID, bound_payload, sign
from tests.support.intake import incident as new_incident
from tests.support.intake import start_api_only

COMMUNITY = "replay"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    yield await start_api_only(stack, COMMUNITY)


incident = partial(new_incident, COMMUNITY)  # incident(building)


def signed_request(payload: dict[str, Any], webhook_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {
        "content-type": "application/json",
        "x-bot-id": BOT_ID,
        **sign(bound_payload("POST", "/v1/requests", body), msg_id=webhook_id),
    }
    return body, headers


async def rows(db: asyncpg.Connection) -> tuple[int, int]:
    intake_rows = await db.fetchval("SELECT count(*) FROM api_intake")
    keys = await db.fetchval("SELECT count(*) FROM api_idempotency")
    return int(intake_rows), int(keys)


async def test_the_same_signed_request_sent_again_is_refused_not_replayed(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body, headers = signed_request(incident("b1"), "msg_replay_1")
    first = await client.post("/v1/requests", content=body, headers=headers)
    assert first.status_code == 202, first.text
    before = await rows(db)
    again = await client.post("/v1/requests", content=body, headers=headers)
    # Refused as a replay, not answered from the stored idempotency answer: the webhook-id
    # is checked first in the statement.
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "replayed"
    assert "idempotent-replayed" not in again.headers
    assert await rows(db) == before


async def test_a_used_webhook_id_on_a_new_message_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body, headers = signed_request(incident("b2"), "msg_replay_2")
    assert (await client.post("/v1/requests", content=body, headers=headers)).status_code == 202
    before = await rows(db)
    other = incident("b22")  # another chat message (new message id, new key)
    body2, headers2 = signed_request(other, "msg_replay_2")
    r = await client.post("/v1/requests", content=body2, headers=headers2)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "replayed"
    assert await rows(db) == before  # no intake row, no idempotency key for the new message


async def test_the_statement_refuses_a_replay_in_its_one_round_trip(api: LocalStack) -> None:
    """At the edge: one `intake.submit` call (one statement) with a used webhook-id says
    `replayed` and has claimed no key and stored no intake row."""
    conn = await asyncpg.connect(api.pg_dsn)
    try:
        await conn.execute(
            "INSERT INTO api_webhook_ids (bot_id, webhook_id) VALUES ('edge-bot', 'w-used')"
        )

        async def submit(webhook_id: str, request_id: str) -> intake.Submitted:
            return await edge.submit(
                conn,
                webhook=intake.WebhookId("edge-bot", webhook_id),
                bot_id="edge-bot",
                key=f"k-{request_id}",
                request_id=request_id,
                community_id=COMMUNITY,
            )

        refused = await submit("w-used", "r-edge-1")
        assert refused.replayed and not refused.claimed and refused.earlier is None
        assert (
            await conn.fetchval("SELECT count(*) FROM api_intake WHERE request_id = 'r-edge-1'")
            == 0
        )
        assert (
            await conn.fetchval("SELECT count(*) FROM api_idempotency WHERE bot_id = 'edge-bot'")
            == 0
        )
        accepted = await submit("w-new", "r-edge-2")
        assert not accepted.replayed and accepted.claimed
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM api_webhook_ids "
                "WHERE bot_id = 'edge-bot' AND webhook_id = 'w-new'"
            )
            == 1
        )
    finally:
        await conn.close()


async def test_while_kafka_refuses_a_replay_keeps_its_id_and_a_refused_request_gets_its_back(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    done_body, done_headers = signed_request(incident("b4"), "msg_replay_done")
    assert (
        await client.post("/v1/requests", content=done_body, headers=done_headers)
    ).status_code == 202
    refused_payload = incident("b5")
    body, headers = signed_request(refused_payload, "msg_replay_refused")

    await delete_topic(api, api.env()["DISPATCH_COMMANDS_TOPIC"])
    try:
        refused = await client.post("/v1/requests", content=body, headers=headers, timeout=60)
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"]["reason"] == "queue_unavailable"
        # A replay of an acknowledged delivery during the outage: still refused as a replay
        # (4xx, from the statement), so the failure path releases nothing it does not own.
        replay = await client.post("/v1/requests", content=done_body, headers=done_headers)
        assert replay.status_code == 409 and replay.json()["detail"]["reason"] == "replayed"
    finally:
        api.run_cli("topics")

    # The refused delivery's own webhook-id was given back (5xx on our side), so the
    # platform's re-send of the very same signed message is served: one request, the one
    # the outbox already holds (same request id from the message id), not merged into itself.
    retried = await client.post("/v1/requests", content=body, headers=headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["merged"] is False
    request_id = retried.json()["request_id"]
    assert (
        await db.fetchval("SELECT count(*) FROM api_intake WHERE request_id = $1", request_id) == 1
    )
    # And the acknowledged one's id is still held: its replay is refused after the outage too.
    replay = await client.post("/v1/requests", content=done_body, headers=done_headers)
    assert replay.status_code == 409 and replay.json()["detail"]["reason"] == "replayed"
