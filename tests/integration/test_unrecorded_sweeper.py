"""Nothing acknowledged is lost even when the consumer skips a command.

Simulates the faust-streaming failure seen in the crash test (a stream resuming past its
committed offset after a restart): the worker group's committed offsets are moved past an
acknowledged SubmitRequest before any worker read it. The API's unrecorded sweeper must notice
that the request never reached the read model and produce the same command again.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
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
        offsets = {tp: OffsetAndMetadata(off, "") for tp, off in ends.items()}
        for _ in range(60):  # refused while killed members' sessions have not expired yet
            try:
                await consumer.commit(offsets)
                return
            except KafkaError:
                await asyncio.sleep(0.5)
        raise AssertionError("could not move the worker group's offsets")
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


async def test_a_skipped_volunteer_accept_is_resent_and_takes_effect(stack: LocalStack) -> None:
    from datetime import UTC, datetime, timedelta

    from dispatcher.links import action_links

    community = "reconcile"  # the module's API (started above) knows this community only
    if not any(p.name == "api" and p.alive() for p in stack.procs):
        stack.extra_env["DISPATCH_RECONCILE_GRACE_SECONDS"] = "2"
        stack.extra_env["DISPATCH_RECONCILE_INTERVAL_SECONDS"] = "0.5"
        stack.bot_communities.add(community)
        await stack.start_api()
    stack.start_worker("worker-accept")
    staff = {"Authorization": "Bearer dev-staff-token"}
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
            h = builders.helper("ann", community, ["driving"])
            assert (
                await client.put("/v1/admin/helpers/ann", json=h, headers=staff)
            ).status_code == 202
            body = builders.request(community)
            body["place"]["building_id"] = "b8"  # another incident than the first test's
            r = await BotClient(client).post("/v1/requests", body)
            assert r.status_code == 202, r.text
            request_id = r.json()["request_id"]
            offer = await eventually(
                lambda: conn.fetchrow("SELECT * FROM offers WHERE request_id = $1", request_id),
                what="the offer",
            )
            for p in stack.procs:  # nobody consumes now
                if p.name.startswith("worker"):
                    p.kill()
            links = action_links(
                stack.settings(),
                request_id=request_id,
                offer_id=offer["offer_id"],
                helper_id="ann",
                community_id=community,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
            page = await client.post(links["accept"])
            assert page.status_code in (200, 202)
        await skip_everything_so_far(stack)  # the accept is in Kafka, behind the group
        stack.start_worker("worker-accept")
        assigned = await eventually(
            lambda: conn.fetchrow("SELECT * FROM assignments WHERE request_id = $1", request_id),
            timeout=90,
            what="the skipped accept to be re-sent and applied",
        )
        assert assigned["helper_id"] == "ann"
        resent = await conn.fetchval(
            "SELECT resent FROM api_link_uses WHERE request_id = $1 AND action = 'accept'",
            request_id,
        )
        assert resent >= 1
    finally:
        await conn.close()
