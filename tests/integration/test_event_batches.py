"""Issue 18 on the real broker: the events of one decision travel in one Kafka record, and
the readers take every event out of it (the record agent into PostgreSQL, the notify agent
to the phones); a single-event record from before the batches is still read, and garbage on
the topic is dead-lettered with its reason."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from schemas.dead_letter import DeadLetter
from schemas.event_batch import decode_events, encode_batches
from schemas.events import CommandRejected, OffersSent, make_event, sent_offers
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
COMMUNITY = "batched"
HELPERS = [f"b{i}" for i in range(6)]


async def drivers_and_a_request(stack: LocalStack, community: str, helpers: list[str]) -> str:
    """Drivers on the `phones` endpoint, then a bot's request: its id."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        for hid in helpers:
            h = builders.helper(hid, community, ["driving"], channels=["phones"])
            r = await client.put(f"/v1/admin/helpers/{hid}", json=h, headers=STAFF)
            assert r.status_code == 202, r.text
        r = await BotClient(client).post("/v1/requests", builders.request(community))
        assert r.status_code == 202, r.text
        return str(r.json()["request_id"])


async def test_one_record_per_decision_read_whole_by_every_agent(stack: LocalStack) -> None:
    old = make_event(  # as the dispatch agent wrote events before the batches: one a record
        CommandRejected(command_type="accept_offer", reason="unknown_request"),
        command_id="before-batches",
        index=0,
        community_id=COMMUNITY,
        request_id=None,
        occurred_at=datetime.now(UTC),
    )
    events_topic = stack.topic("events")
    async with PushReceiver() as phones:
        endpoint = {"name": "phones", "kind": "webhook", "url": phones.url("/phones")}
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([{**endpoint, "secret": SECRET}])
        # No rung climbs while the test looks (a critical request's first climb is 20 s
        # after its decision on the real ladder, 2000 s here): the records read below are
        # every record the worker writes, and /stats, read later, counts the same.
        stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = "100"
        stack.start_worker()
        stack.bot_communities.add(COMMUNITY)
        await stack.start_api()
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            key = COMMUNITY.encode()
            await producer.send_and_wait(events_topic, old.model_dump_json().encode(), key=key)
            await producer.send_and_wait(events_topic, b"not an event", key=key)
        finally:
            await producer.stop()

        request_id = await drivers_and_a_request(stack, COMMUNITY, HELPERS)

        def offered() -> set[str]:
            return {
                str(p.json()["data"]["recipient"])
                for p in phones.for_path("/phones")
                if p.json()["data"].get("kind") == "offer"
            }

        await phones.wait_for(lambda: bool(offered()), timeout=60)
        records = await read_topic(stack.kafka_bootstrap, events_topic, until=10**6, timeout=5)
        batches = [decode_events(r.value) for r in records[2:]]  # after the two written above
        # One record per decision: each holds the events of one command, and no command's
        # events are spread over two records.
        causes = [{e.caused_by for e in batch} for batch in batches]
        assert all(len(c) == 1 for c in causes)
        per_command = Counter(next(iter(c)) for c in causes)
        assert set(per_command.values()) == {1}
        assert len(batches) >= len(HELPERS) + 1  # a HelperUpdated per upsert, then the request
        [opened] = [b for b in batches if b[0].body.type == "request_opened"]
        assert opened[0].request_id == request_id
        wave = {
            one.helper_id
            for e in opened
            if isinstance(e.body, OffersSent)
            for one in sent_offers(e.body)
        }
        assert len(wave) >= 2
        # The notify agent pushed an offer for every offer of that one record.
        await phones.wait_for(lambda: offered() == wave, timeout=30)

    # The record agent recorded every event, the old single one too, and dead-lettered the
    # garbage with its reason.
    every = {e.event_id for batch in batches for e in batch} | {old.event_id}
    conn = await asyncpg.connect(stack.pg_dsn)
    try:

        async def recorded() -> bool:
            rows = await conn.fetch("SELECT event_id FROM event_log")
            return every <= {r["event_id"] for r in rows}

        await eventually(recorded, timeout=30, what="every event of every record recorded")
    finally:
        await conn.close()
    # The worker's own records were handed from its dispatch agent to its readers, not
    # decoded: only the two written above were (the old event once, the garbage by each).
    [worker] = stack.workers()
    stats = await stack.worker_stats(worker)
    assert stats is not None
    assert stats["decoded_events"]["handed"] == len(batches)
    assert stats["decoded_events"]["decoded"] <= 3, stats["decoded_events"]
    dead = stack.env()["DISPATCH_DEAD_LETTER_TOPIC"]
    [letter] = [
        DeadLetter.model_validate_json(r.value)
        for r in await read_topic(stack.kafka_bootstrap, dead, until=1)
    ]
    assert (letter.stage, letter.source_topic, letter.offset) == ("decode", events_topic, 1)
    assert letter.reason.startswith("undecodable event")


async def test_an_event_this_release_cannot_read_costs_its_decision_nothing_else(
    stack: LocalStack,
) -> None:
    """A rolling upgrade: a newer worker wrote a decision whose batch holds an event type this
    release does not know. The record agent records the others and dead-letters that one
    alone, naming it; before, the whole decision went to the dead letters unrecorded."""
    community = "batched-future"
    known = [
        make_event(
            CommandRejected(command_type="accept_offer", reason="unknown_request"),
            command_id="from-a-newer-release",
            index=i,
            community_id=community,
            request_id=None,
            occurred_at=datetime.now(UTC),
        )
        for i in (0, 2)
    ]
    future = json.loads(known[0].model_dump_json()) | {
        "event_id": "future-event-1",
        "body": {"type": "launch_rocket", "countdown": 10},
    }
    frame = json.loads(encode_batches(known)[0][1])
    frame["events"].insert(1, future)
    events_topic = stack.topic("events")
    stack.start_worker()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            events_topic, json.dumps(frame).encode(), key=community.encode()
        )
    finally:
        await producer.stop()

    conn = await asyncpg.connect(stack.pg_dsn)
    try:

        async def both_recorded() -> bool:
            rows = await conn.fetch(
                "SELECT event_id FROM event_log WHERE community_id = $1", community
            )
            return {e.event_id for e in known} <= {r["event_id"] for r in rows}

        await eventually(both_recorded, timeout=60, what="the readable events recorded")
    finally:
        await conn.close()
    dead = stack.env()["DISPATCH_DEAD_LETTER_TOPIC"]
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in await read_topic(stack.kafka_bootstrap, dead, until=10**6, timeout=5)
    ]
    [letter] = [x for x in letters if x.key == community]  # one letter, for that event alone
    assert (letter.stage, letter.source_topic) == ("decode", events_topic)
    assert letter.reason.startswith("undecodable event: event 1 future-event-1 (launch_rocket)")
    assert json.loads(base64.b64decode(letter.payload_b64)) == future
