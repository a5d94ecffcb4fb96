"""A command whose events the real broker refuses for a reason that may pass is not lost.

On the secured broker of tests/integration/test_kafka_acls.py (SCRAM users, the deployment's
ACLs), the worker's Write on `events` is denied while it runs: the broker answers its
produce with TOPIC_AUTHORIZATION_FAILED at once (a broker away answers only after Faust's
producer_request_timeout, 20 minutes: the same path, `send_may_pass` in
streams/dispatch_agent.py). Before session 37 the worker dead-lettered the command and
committed its offset: the helper's deactivation was lost for good. Now the worker tries the
send again, then exits 75 with nothing dead-lettered and the offset uncommitted; once the
deny is lifted, the restarted worker reads the command again and its event goes out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest

from dispatcher.testing.stack import LocalStack, Proc, free_port
from schemas.commands import DeactivateHelper, UpsertHelper, new_command
from schemas.event_batch import decode_record
from schemas.helpers import HelperProfile
from tests.integration.test_kafka_acls import SecuredBroker, _admin_ready, broker, secured
from tests.support import builders
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

__all__ = ["broker", "secured"]  # the secured broker and namespace, this module's own

COMMUNITY = "sec-refused"
WORKER = "User:dispatch-worker"
TOPIC, LITERAL, WRITE, DENY = 2, 3, 4, 2  # Kafka's wire enums (tests/support/kafka_acls.py)
EXIT_REPLAY = 75  # streams/dispatch_agent.py: the supervisor restarts, the command is read again


@pytest.fixture
async def admin(broker: SecuredBroker) -> AsyncIterator[AIOKafkaAdminClient]:
    client = await _admin_ready(broker.internal)
    try:
        yield client
    finally:
        await client.close()


async def write_denied(admin: AIOKafkaAdminClient, topic: str) -> bool:
    """Whether the broker's authorizer (the one that answers the worker's produce: a single
    KRaft node) holds the deny now."""
    request = DescribeAclsRequest(TOPIC, topic, LITERAL, WORKER, "*", WRITE, DENY)
    response: Any = await admin._send_to_controller(request)
    assert response.error_code == 0, response.error_message
    return any(acls for *_, acls in response.resources)


async def deny_write(admin: AIOKafkaAdminClient, topic: str) -> None:
    request = CreateAclsRequest(TOPIC, topic, LITERAL, WORKER, "*", WRITE, DENY)
    response: Any = await admin._send_to_controller(request)
    ((error, message),) = response.creation_responses
    assert error == 0, message

    async def denied() -> bool:
        return await write_denied(admin, topic)

    await eventually(denied, timeout=30, what="the deny in force")


async def allow_write_again(admin: AIOKafkaAdminClient, topic: str) -> None:
    request = DeleteAclsRequest(TOPIC, topic, LITERAL, WORKER, "*", WRITE, DENY)
    response: Any = await admin._send_to_controller(request)
    ((error, message, matching),) = response.filter_responses
    assert error == 0 and len(matching) == 1, (error, message, matching)

    async def lifted() -> bool:
        return not await write_denied(admin, topic)

    await eventually(lifted, timeout=30, what="the deny lifted")


def start_worker(stack: LocalStack, broker: SecuredBroker, port: int) -> Proc:
    env = stack.env(**broker.env("dispatch-worker"))
    proc = stack.spawn("worker-1", "worker", "--name", "worker-1", "--web-port", str(port), env=env)
    proc.web_port = port
    return proc


async def caused_by(stack: LocalStack, broker: SecuredBroker, command_id: str) -> bool:
    """Whether `events` holds an event of `command_id` (read as the super user)."""
    records = await read_topic(broker.internal, stack.topic("events"), until=10_000, timeout=3)
    return any(e.caused_by == command_id for r in records for e in decode_record(r.value).events)


async def exited_to_be_read_again(
    worker: Proc,
    admin: AIOKafkaAdminClient,
    app_id: str,
    tp: TopicPartition,
    offset: int,
    says: str,
) -> None:
    """The worker exited 75 over a write the broker refused (`says` in its log), leaving the
    record at `offset` unacknowledged: its group's committed offset not past it."""

    async def exited() -> bool:
        return not worker.alive()

    await eventually(exited, timeout=120, what="the worker exiting", explain=worker.log_tail)
    assert worker.popen.returncode == EXIT_REPLAY, worker.log_tail()
    log = worker.log_path.read_text(errors="replace")
    assert says in log
    assert "TopicAuthorizationFailedError" in log
    committed = await admin.list_consumer_group_offsets(app_id)
    assert tp in committed and committed[tp].offset <= offset, committed


async def test_a_command_whose_events_the_broker_refuses_is_read_again_not_dead_lettered(
    broker: SecuredBroker, secured: LocalStack, admin: AIOKafkaAdminClient
) -> None:
    events = secured.topic("events")
    port = free_port()
    worker = start_worker(secured, broker, port)
    profile = HelperProfile.model_validate(builders.helper("refused-1", COMMUNITY, ["driving"]))
    producer = AIOKafkaProducer(bootstrap_servers=broker.internal, acks="all")
    await producer.start()
    try:

        async def send(body: Any) -> tuple[str, TopicPartition, int]:
            command = new_command(body, community_id=COMMUNITY, issued_at=datetime.now(UTC))
            meta = await producer.send_and_wait(
                secured.topic("commands"),
                command.model_dump_json().encode(),
                key=COMMUNITY.encode(),
            )
            return command.command_id, TopicPartition(meta.topic, meta.partition), meta.offset

        upsert, _, _ = await send(UpsertHelper(profile=profile))

        async def served() -> bool:
            return await caused_by(secured, broker, upsert)

        await eventually(served, timeout=120, what="the worker serving", explain=worker.log_tail)

        await deny_write(admin, events)
        deactivate, tp, offset = await send(DeactivateHelper(helper_id="refused-1"))

        # Before session 37: dead-lettered at once, and the worker went on.
        says = f"the events of command {deactivate} were not sent"
        await exited_to_be_read_again(worker, admin, secured.app_id, tp, offset, says)
        # Nothing dead-lettered.
        dead = await read_topic(broker.internal, secured.topic("deadletter"), until=1, timeout=3)
        assert dead == []
        assert not await caused_by(secured, broker, deactivate)

        await allow_write_again(admin, events)
        worker = start_worker(secured, broker, port)

        async def replayed() -> bool:
            return await caused_by(secured, broker, deactivate)

        await eventually(
            replayed, timeout=120, what="the command read again", explain=worker.log_tail
        )

        async def committed_past() -> bool:
            offsets = await admin.list_consumer_group_offsets(secured.app_id)
            return tp in offsets and offsets[tp].offset > offset

        await eventually(committed_past, timeout=60, what="its offset committed")
        assert worker.alive(), worker.log_tail()
        dead = await read_topic(broker.internal, secured.topic("deadletter"), until=1, timeout=3)
        assert dead == []
    finally:
        await producer.stop()
        worker.stop()
