"""A report merged into an earlier request re-sends that request's stored command before its
202, so the acknowledgement never rests on the unrecorded sweeper.

The earlier report's send is refused for real (the namespace's commands topic is deleted on
the real broker: topics are never auto-created, so the API's produce fails with 503), and its
bot never retries. The sweeper is off. A second report of the same incident (same building
and category, another chat message) is merged into the earlier request: while Kafka still
refuses, it gets 503 too (never a 202 for a command Kafka lacks); once the topic is back, its
202 comes only after it sent the earlier request's stored command, which is then in Kafka
(the only producer of it here) with the intake row's very command id.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from dispatcher.testing.stack import LocalStack
from tests.integration.test_intake_outbox import delete_topic
from tests.support import builders
from tests.support.bot import BotClient


async def commands_in(stack: LocalStack, topic: str) -> list[dict[str, Any]]:
    """Every record of `topic` now, from its start (no group, nothing committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(stack.partitions)]  # as created
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[dict[str, Any]] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out += [json.loads(r.value) for r in records if r.value is not None]
        return out
    finally:
        await consumer.stop()


def submitted(commands: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [
        c
        for c in commands
        if c["body"].get("type") == "submit_request"
        and c["body"]["spec"]["request_id"] == request_id
    ]


async def test_merged_report_sends_the_earlier_command_before_its_202(stack: LocalStack) -> None:
    stack.extra_env["DISPATCH_RECONCILE_ENABLED"] = "false"  # only the API's own sends count
    stack.bot_communities.add("mresend")
    await stack.start_api()
    topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
    first = builders.request("mresend")  # a known building: merging applies to it
    await delete_topic(stack, topic)

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        bot = BotClient(client)
        refused = await bot.post("/v1/requests", first)
        assert refused.status_code == 503, refused.text  # and its bot never retries

        conn = await asyncpg.connect(stack.pg_dsn)
        try:
            row = await conn.fetchrow(
                "SELECT request_id, command->>'command_id' AS id FROM api_intake"
            )
            assert row is not None  # the outbox copy stays
            earlier, command_id = row["request_id"], row["id"]

            # Kafka still refuses: the merged report is not acknowledged either.
            also_refused = await bot.post("/v1/requests", builders.request("mresend"))
            assert also_refused.status_code == 503, also_refused.text

            stack.run_cli("topics")  # the broker is back for this namespace (empty topic)
            merged = await bot.post("/v1/requests", builders.request("mresend"))
            assert merged.status_code == 202, merged.text
            answer = merged.json()
            assert answer["merged"] is True and answer["request_id"] == earlier

            commands = await commands_in(stack, topic)
            sent = submitted(commands, earlier)
            assert sent, "the merged report's 202 came without the earlier command in Kafka"
            assert {c["command_id"] for c in sent} == {command_id}  # the stored command itself
            # No request for the merged reports themselves: the acknowledged one only says the
            # incident was reported again (nobody accepted it), after the request's command
            # (one partition: the community's); the refused one sent nothing.
            assert [c["body"] for c in commands[len(sent) :]] == [
                {"type": "report_repeated", "request_id": earlier}
            ]
            assert commands[: len(sent)] == sent
            assert await conn.fetchval("SELECT count(*) FROM api_intake") == 1
        finally:
            await conn.close()
