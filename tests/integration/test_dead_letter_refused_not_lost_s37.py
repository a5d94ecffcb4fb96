"""A bad command whose dead letter the real broker refuses is not acknowledged: it is read
again, and lettered once the broker takes the letter.

On the secured broker of tests/integration/test_kafka_acls.py (SCRAM users, the deployment's
ACLs), the worker's Write on the dead-letter topic is denied while it runs: the broker
answers the letter's produce with TOPIC_AUTHORIZATION_FAILED at once (a broker away answers
only after Faust's producer_request_timeout: the same path, `send_may_pass` in
streams/send_failures.py). Before session 37 the sink never awaited the letter's
acknowledgement and logged any failure: the undecodable command was acknowledged, its offset
committed, with no dead letter anywhere. Now the sink tries the letter again, then the worker
exits 75 with the offset uncommitted; once the deny is lifted, the restarted worker reads the
command again and its dead letter goes out.
"""

from __future__ import annotations

import base64
import json

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.testing.stack import LocalStack, free_port
from tests.integration.test_kafka_acls import SecuredBroker, broker, secured
from tests.integration.test_send_refused_not_lost_s37 import (
    admin,
    allow_write_again,
    deny_write,
    exited_to_be_read_again,
    start_worker,
)
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

__all__ = ["admin", "broker", "secured"]  # the fixtures, this module's own

GARBAGE = b"\xff\xfe not a command"


async def test_a_bad_command_whose_dead_letter_is_refused_is_read_again_then_lettered(
    broker: SecuredBroker, secured: LocalStack, admin: AIOKafkaAdminClient
) -> None:
    deadletter = secured.topic("deadletter")
    port = free_port()
    worker = start_worker(secured, broker, port)
    producer = AIOKafkaProducer(bootstrap_servers=broker.internal, acks="all")
    await producer.start()
    try:
        # Serving first: a garbage record of its own, lettered (the deny not yet in force).
        first = await producer.send_and_wait(secured.topic("commands"), b"\x00", key=b"sec-dl")

        async def lettered_first() -> bool:
            records = await read_topic(broker.internal, deadletter, until=10_000, timeout=3)
            return any(json.loads(r.value)["offset"] == first.offset for r in records)

        await eventually(
            lettered_first, timeout=120, what="the worker serving", explain=worker.log_tail
        )
        before = len(await read_topic(broker.internal, deadletter, until=10_000, timeout=3))

        await deny_write(admin, deadletter)
        meta = await producer.send_and_wait(secured.topic("commands"), GARBAGE, key=b"sec-dl")
        tp, offset = TopicPartition(meta.topic, meta.partition), meta.offset

        # Before session 37: "could not dead-letter" logged, the offset committed, going on.
        says = f"the dead letter of {tp.topic}[{tp.partition}]@{offset} was not sent"
        await exited_to_be_read_again(worker, admin, secured.app_id, tp, offset, says)
        # No letter of it.
        dead = await read_topic(broker.internal, deadletter, until=10_000, timeout=3)
        assert len(dead) == before

        await allow_write_again(admin, deadletter)
        worker = start_worker(secured, broker, port)

        async def lettered() -> bool:
            records = await read_topic(broker.internal, deadletter, until=10_000, timeout=3)
            return any(
                (json.loads(r.value)["source_topic"], json.loads(r.value)["offset"])
                == (tp.topic, offset)
                for r in records
            )

        await eventually(lettered, timeout=120, what="the letter sent", explain=worker.log_tail)
        records = await read_topic(broker.internal, deadletter, until=10_000, timeout=3)
        [letter] = [
            json.loads(r.value)
            for r in records
            if (json.loads(r.value)["source_topic"], json.loads(r.value)["offset"])
            == (tp.topic, offset)
        ]
        assert letter["stage"] == "decode" and letter["reason"].startswith("undecodable command")
        assert base64.b64decode(letter["payload_b64"]) == GARBAGE

        async def committed_past() -> bool:
            offsets = await admin.list_consumer_group_offsets(secured.app_id)
            return tp in offsets and offsets[tp].offset > offset

        await eventually(committed_past, timeout=60, what="its offset committed")
        assert worker.alive(), worker.log_tail()
    finally:
        await producer.stop()
        worker.stop()
