"""A worker restarted after a critical request opened still labels it critical and counts its
first accept (session 38's audit). Real Kafka and PostgreSQL.

The worker's event metrics (dispatcher/ops/event_metrics.py) learnt a request's urgency,
category and opening only from its `request_opened` event. A restart (or a rebalance moving
the partition to another worker) begins after the record agent's committed offset, past the
opening: the close was counted as urgency="unknown" (a critical expiry paged nobody,
deploy/prometheus/alerts.yml DispatchCriticalUnanswered) and the first accept was not counted
at all (dispatch_requests_answered_total, dispatch_time_to_first_accept_seconds). The record
agent now reads the requests it did not see opened from PostgreSQL before recording their
batch (streams/record_agent.py `Seeding`).
"""

from __future__ import annotations

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from dispatcher.testing.stack import LocalStack
from schemas.commands import AcceptOffer, CommandBody, CompleteAssignment
from streams.record_agent import record_group
from tests.support import builders, worker_metrics
from tests.support.kafka_lag import uncommitted
from tests.support.waiting import eventually
from tests.support.worker_metrics import get, once_resolved

COMMUNITY = "s38-restart"
STAFF = {"Authorization": "Bearer dev-staff-token"}
CRITICAL = {"urgency": "critical"}


async def send(stack: LocalStack, producer: AIOKafkaProducer, body: CommandBody) -> None:
    await worker_metrics.send(stack, producer, COMMUNITY, body)


async def events_not_recorded(stack: LocalStack) -> int:
    """Records of `events` after the record agent's committed offsets."""
    return await uncommitted(stack, record_group(stack.settings()), stack.topic("events"))


async def test_a_restarted_worker_labels_and_answers_a_request_opened_before(
    stack: LocalStack,
) -> None:
    first = stack.start_worker("worker-1")
    await stack.start_api()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
            r = await api.put(
                "/v1/admin/helpers/r-d1",
                json=builders.helper("r-d1", COMMUNITY, ["driving"]),
                headers=STAFF,
            )
            assert r.status_code == 202, r.text
            r = await api.post("/v1/requests", json=builders.request(COMMUNITY), headers=STAFF)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]

        async def offer() -> str | None:
            found: str | None = await conn.fetchval(
                "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = 'r-d1'", rid
            )
            return found

        offer_id = await eventually(offer, what="the offer recorded")

        # Everything up to the offer recorded and committed: the next worker starts after the
        # opening, as a restart or a rebalance does.
        async def all_recorded() -> bool:
            return await events_not_recorded(stack) == 0

        await eventually(all_recorded, what="the record agent's commit")
        first.stop()

        second = stack.start_worker("worker-1")
        await send(
            stack, producer, AcceptOffer(request_id=rid, offer_id=offer_id, helper_id="r-d1")
        )
        await send(
            stack, producer, CompleteAssignment(request_id=rid, helper_id="r-d1", minutes=30)
        )

        async def resolved() -> bool:
            outcome = await conn.fetchval("SELECT outcome FROM requests WHERE request_id = $1", rid)
            return outcome == "resolved"

        await eventually(resolved, timeout=120, what="the request resolved after the restart")

        url = f"http://127.0.0.1:{second.web_port}/metrics"
        m = await once_resolved(url, "the close counted by the restarted worker")
        # The restarted worker never saw the opening, and did not count it.
        assert get(m, "dispatch_requests_opened_total") == 0
        assert get(m, "dispatch_requests_closed_total", outcome="resolved", **CRITICAL) == 1
        assert get(m, "dispatch_requests_closed_total", urgency="unknown") == 0
        assert get(m, "dispatch_requests_answered_total", **CRITICAL) == 1
        assert get(m, "dispatch_time_to_first_accept_seconds_count", **CRITICAL) == 1
        assert get(m, "dispatch_offer_answers_total", answer="accepted") == 1
    finally:
        await conn.close()
        await producer.stop()
