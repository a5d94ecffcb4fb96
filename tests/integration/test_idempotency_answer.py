"""A new request's idempotent answer is stored by the intake statement itself, still in flight,
and becomes final only once Kafka acknowledged the command (dispatcher/api/idempotency.py).

What a retry sees: the stored answer once it is final; and while it is still in flight (the
owner is sending, was refused, or died between Kafka's ack and marking it done), the retry
sends the intake row's stored command again and answers only after Kafka's ack, with the
very same answer. Kafka refusing that second send gives 503 and leaves the answer in flight
for the next retry. Real API, PostgreSQL and Kafka (the refusal: the commands topic deleted).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.integration.test_intake_outbox import delete_topic
from tests.support.bot import BOT_ID, BotClient
from tests.support.intake import incident as new_incident
from tests.support.intake import start_api_only
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

COMMUNITY = "answers"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    yield await start_api_only(stack, COMMUNITY)


incident = partial(new_incident, COMMUNITY)  # incident(building)


async def key_row(db: asyncpg.Connection, key: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT state, status_code, response::text AS response, request_id FROM api_idempotency "
        "WHERE bot_id = $1 AND key = $2",
        BOT_ID,
        key,
    )
    assert row is not None
    return row


async def first_answer(
    client: httpx.AsyncClient, building: str, key: str
) -> tuple[BotClient, dict[str, Any], httpx.Response]:
    """A new request with an Idempotency-Key, accepted: the bot, its payload, the 202."""
    bot = BotClient(client)
    payload = incident(building)
    first = await bot.post("/v1/requests", payload, **{"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    return bot, payload, first


async def back_in_flight(db: asyncpg.Connection, key: str) -> None:
    """As if the owner died between Kafka's ack and marking the answer done."""
    await eventually(
        lambda: db.fetchval(
            "UPDATE api_idempotency SET state = 'in_flight' "
            "WHERE bot_id = $1 AND key = $2 AND state = 'done' RETURNING true",
            BOT_ID,
            key,
        ),
        what="the answer marked done, then put back in flight",
    )


async def commands_for(api: LocalStack, request_id: str) -> int:
    records = await read_topic(
        api.kafka_bootstrap, api.env()["DISPATCH_COMMANDS_TOPIC"], until=10_000, timeout=3
    )
    return sum(1 for r in records if request_id.encode() in r.value)


async def test_the_answer_stored_by_the_intake_statement_is_final_after_the_ack(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    payload = incident("b1")
    r = await BotClient(client).post("/v1/requests", payload, **{"Idempotency-Key": "k-a1"})
    assert r.status_code == 202, r.text
    await eventually(
        lambda: db.fetchval(
            "SELECT state = 'done' FROM api_idempotency WHERE bot_id = $1 AND key = 'k-a1'",
            BOT_ID,
        ),
        what="the answer marked done after the 202",
    )
    row = await key_row(db, "k-a1")
    assert row["status_code"] == 202 and row["request_id"] == r.json()["request_id"]
    again = await BotClient(client).post("/v1/requests", payload, **{"Idempotency-Key": "k-a1"})
    assert again.status_code == 202 and again.json() == r.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_retry_meeting_the_answer_in_flight_sends_the_command_again_first(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot, payload, first = await first_answer(client, "b2", "k-a2")
    request_id = first.json()["request_id"]
    assert await commands_for(api, request_id) == 1
    await back_in_flight(db, "k-a2")
    retried = await bot.post("/v1/requests", payload, **{"Idempotency-Key": "k-a2"})
    assert retried.status_code == 202, retried.text
    assert retried.json() == first.json()
    assert retried.headers["idempotent-replayed"] == "true"
    # The retry sent the stored command again before answering (the worker applies it once:
    # the same request id), and the answer is now final.
    assert await commands_for(api, request_id) == 2
    assert (await key_row(db, "k-a2"))["state"] == "done"
    assert (
        await db.fetchval("SELECT count(*) FROM api_intake WHERE request_id = $1", request_id) == 1
    )


async def test_kafka_refusing_the_retry_s_send_gives_503_and_keeps_the_answer_in_flight(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot, payload, first = await first_answer(client, "b3", "k-a3")
    await back_in_flight(db, "k-a3")
    await delete_topic(api, api.env()["DISPATCH_COMMANDS_TOPIC"])
    try:
        refused = await bot.post("/v1/requests", payload, **{"Idempotency-Key": "k-a3"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"]["reason"] == "queue_unavailable"
        row = await key_row(db, "k-a3")  # not given up: the owner's answer stays, in flight
        assert row["state"] == "in_flight" and row["request_id"] == first.json()["request_id"]
    finally:
        api.run_cli("topics")
    retried = await bot.post("/v1/requests", payload, **{"Idempotency-Key": "k-a3"})
    assert retried.status_code == 202, retried.text
    assert retried.json() == first.json()
    assert await commands_for(api, first.json()["request_id"]) == 1  # the new topic's copy


async def test_a_stale_key_without_an_answer_is_taken_over_and_answered(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """An owner that died before any answer was stored (an API of the previous release,
    which stored it only after Kafka's ack): after `STALE_AFTER_S` a retry takes the key
    over, sends the request again (same request id) and stores its own answer."""
    bot, payload, first = await first_answer(client, "b4", "k-a4")
    await back_in_flight(db, "k-a4")
    await db.execute(
        "UPDATE api_idempotency SET response = NULL, status_code = NULL, request_id = NULL, "
        "updated_at = now() - interval '1 minute' WHERE bot_id = $1 AND key = 'k-a4'",
        BOT_ID,
    )
    retried = await bot.post("/v1/requests", payload, **{"Idempotency-Key": "k-a4"})
    assert retried.status_code == 202, retried.text
    assert "idempotent-replayed" not in retried.headers  # done again, not replayed
    assert retried.json()["request_id"] == first.json()["request_id"]
    assert retried.json()["merged"] is False
    row = await key_row(db, "k-a4")
    assert row["state"] == "done" and row["status_code"] == 202
    assert await commands_for(api, first.json()["request_id"]) == 2


async def test_a_merged_report_s_key_holds_the_merged_answer_only(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The intake statement stores a new request's answer with its key (migration 0370: in
    the claim itself); a report merged into an earlier request has that answer taken back
    out in the same transaction, and its key ends with the merged answer, never naming a
    request of its own."""
    _, _, first = await first_answer(client, "b5", "k-a5")
    bot = BotClient(client)
    payload = incident("b5")  # another chat message about the same incident
    merged = await bot.post("/v1/requests", payload, **{"Idempotency-Key": "k-a6"})
    assert merged.status_code == 202, merged.text
    assert merged.json()["merged"] is True
    assert merged.json()["request_id"] == first.json()["request_id"]
    row = await key_row(db, "k-a6")
    assert (row["state"], row["status_code"], row["request_id"]) == ("done", 202, None)
    assert json.loads(row["response"]) == merged.json()
    again = await bot.post("/v1/requests", payload, **{"Idempotency-Key": "k-a6"})
    assert again.status_code == 202 and again.json() == merged.json()
    assert again.headers["idempotent-replayed"] == "true"
