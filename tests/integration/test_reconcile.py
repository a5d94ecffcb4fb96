"""Nothing acknowledged is lost even when the consumer skips a command.

Simulates the faust-streaming failure seen in the crash test (a stream resuming past its
committed offset after a restart): the worker group's committed offsets are moved past an
acknowledged SubmitRequest before any worker read it. The API's reconciler must notice
that the request never reached the read model and produce the same command again.
"""

from __future__ import annotations

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from tests.support import builders
from tests.support.bot import BotClient
from tests.support.stack import LocalStack
from tests.support.waiting import eventually


async def skip_everything_so_far(stack: LocalStack) -> None:
    """Commit the worker group's offsets at the end of `commands`, as a buggy resume would."""
    env = stack.env()
    topic = env["DISPATCH_COMMANDS_TOPIC"]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=env["DISPATCH_APP_ID"],
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(stack.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: OffsetAndMetadata(off, "") for tp, off in ends.items()})
    finally:
        await consumer.stop()


async def test_a_skipped_submission_is_resent_and_recorded(stack: LocalStack) -> None:
    stack.extra_env["DISPATCH_RECONCILE_GRACE_SECONDS"] = "2"
    stack.extra_env["DISPATCH_RECONCILE_INTERVAL_SECONDS"] = "0.5"
    stack.bot_communities.add("reconcile")
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        r = await BotClient(client).post("/v1/requests", builders.request("reconcile"))
        assert r.status_code == 202
        request_id = r.json()["request_id"]
    await skip_everything_so_far(stack)  # the command is in Kafka, but behind the group
    stack.start_worker()

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        row = await eventually(
            lambda: conn.fetchrow("SELECT * FROM requests WHERE request_id = $1", request_id),
            timeout=90,
            what="the skipped request to be re-sent and recorded",
        )
        assert row["community_id"] == "reconcile"
        intake = await eventually(
            lambda: conn.fetchrow(
                "SELECT * FROM api_intake WHERE request_id = $1 AND confirmed_at IS NOT NULL",
                request_id,
            ),
            what="the intake row to be confirmed",
        )
        assert intake["resent"] >= 1
        assert intake["command"] is None  # the stored copy (with the contact) is purged
        opened = await conn.fetchval(
            "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'request_opened'",
            request_id,
        )
        assert opened == 1
    finally:
        await conn.close()
