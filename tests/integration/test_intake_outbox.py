"""A bot's submission that Kafka refused (503), then retried, is one request, dispatched once.

The API commits the intake row (the outbox) before it produces the command; when the produce
fails the bot gets 503 + Retry-After and no acknowledgement, while the row stays for the
unrecorded sweeper. The bot's retry of the same chat message then meets that row: it must get
202 for the same request (not "merged into" itself, not a second request), and the worker
must open the request exactly once whichever copy - the retry's or the sweeper's - it reads.
The refusal is real: the namespace's commands topic is deleted on the real broker (topics are
never auto-created), so the API's produce times out; `dispatcher topics` then creates it again.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.waiting import eventually


async def delete_topic(stack: LocalStack, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        for _ in range(100):  # deletion is asynchronous on the controller
            if topic not in await admin.list_topics():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{topic} still listed after its deletion")
    finally:
        await admin.close()


async def test_refused_then_retried_is_one_request_dispatched_once(stack: LocalStack) -> None:
    stack.extra_env["DISPATCH_RECONCILE_GRACE_SECONDS"] = "2"
    stack.extra_env["DISPATCH_RECONCILE_INTERVAL_SECONDS"] = "0.5"
    stack.bot_communities.add("outbox")
    await stack.start_api()
    body = builders.request("outbox")  # a known building: merging applies to it
    await delete_topic(stack, stack.env()["DISPATCH_COMMANDS_TOPIC"])

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        bot = BotClient(client)
        refused = await bot.post("/v1/requests", body, **{"Idempotency-Key": "k-outbox-1"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"]["reason"] == "queue_unavailable"
        assert refused.headers["Retry-After"]

        stack.run_cli("topics")  # the broker is back for this namespace
        retried = await bot.post("/v1/requests", body, **{"Idempotency-Key": "k-outbox-1"})
        assert retried.status_code == 202, retried.text
        answer = retried.json()
        assert answer["merged"] is False  # not folded into its own earlier attempt
        request_id = answer["request_id"]

    stack.start_worker()
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await eventually(
            lambda: conn.fetchval(
                "SELECT 1 FROM api_intake WHERE request_id = $1 AND confirmed_at IS NOT NULL",
                request_id,
            ),
            timeout=90,
            what="the request to be recorded and its intake row confirmed",
        )
        assert await conn.fetchval("SELECT count(*) FROM requests") == 1
        assert await conn.fetchval("SELECT count(*) FROM api_intake") == 1
        opened = await conn.fetchval(
            "SELECT count(*) FROM event_log WHERE type = 'request_opened' AND request_id = $1",
            request_id,
        )
        assert opened == 1
    finally:
        await conn.close()
