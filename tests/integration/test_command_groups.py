"""The dispatch agent on the real broker: the commands already waiting when it is free are one
group, whose events go out in one produce request, and a command of the group that fails is
dead-lettered alone while the others are applied (streams/command_groups.py); the events
topic takes the agent's largest record; a pruned request's deletion marker lands on its own
changelog partition."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from dispatcher.testing.stack import LocalStack
from schemas.commands import CancelRequest, SubmitRequest, UpsertHelper, new_command, reissued
from schemas.dead_letter import DeadLetter
from schemas.event_batch import decode_events
from schemas.helpers import HelperProfile
from schemas.requests import RequestSpec
from schemas.vocab import Party
from streams.record_limit import events_max_message_bytes, problem
from tests.support import builders
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually

COMMUNITY = "grouped"
HELPERS = [f"g{i}" for i in range(8)]
GARBAGE = b"\x00 not a command \xff"


async def record_batches(bootstrap: str, topic: str, partition: int) -> list[tuple[int, int]]:
    """(base offset, records) of each record batch of a partition, as the broker stores them:
    a producer writes one batch per partition per produce request."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client.force_metadata_update()
        leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        request = FetchRequest(100, 1, 10_000_000, 0, [(topic, [(partition, 0, 10_000_000)])])
        response = await client.send(leader, request)
        [(_, partitions)] = response.topics
        records = MemoryRecords(partitions[0][-1])
        batches = []
        while (batch := records.next_batch()) is not None:
            batches.append((batch.base_offset, len(list(batch))))
        return batches
    finally:
        await client.close()


async def test_waiting_commands_are_one_group_and_a_failing_one_is_dead_lettered_alone(
    stack: LocalStack,
) -> None:
    env = stack.env()
    commands_topic = env["DISPATCH_COMMANDS_TOPIC"]
    # All on the topic before the worker starts: it takes the first alone and, while that
    # command's events are awaited, the others arrive in its buffer and are taken together.
    async with CommandProducer(stack.kafka_bootstrap, commands_topic) as producer:
        sent = []
        for i, hid in enumerate(HELPERS):
            if i == 4:
                await producer.send_raw(COMMUNITY, GARBAGE)  # in the middle of the group
            profile = HelperProfile.model_validate(builders.helper(hid, COMMUNITY, ["driving"]))
            sent.append(await producer.send(UpsertHelper(profile=profile), COMMUNITY))
    worker = stack.start_worker()

    async def done() -> dict[str, object] | None:
        stats = await stack.worker_stats(worker)
        if stats is None or stats["commands"] != len(HELPERS) or stats["dead_letters"] != 1:
            return None
        return stats

    stats = await eventually(done, timeout=90, what="every command processed")
    groups = {int(size): times for size, times in stats["command_groups"].items()}  # type: ignore[attr-defined]
    assert sum(size * times for size, times in groups.items()) == len(HELPERS) + 1
    assert max(groups) >= 2, groups  # the commands waiting were taken together

    # One record per decision, every helper's update among them.
    events_topic = env["DISPATCH_EVENTS_TOPIC"]
    records = await read_topic(stack.kafka_bootstrap, events_topic, until=len(HELPERS))
    assert len(records) == len(HELPERS)
    causes = [{e.caused_by for e in decode_events(r.value)} for r in records]
    assert all(len(c) == 1 for c in causes)
    assert Counter(next(iter(c)) for c in causes) == Counter(c.command_id for c in sent)
    updated = {e.body.helper_id for r in records for e in decode_events(r.value)}
    assert updated == set(HELPERS)

    # A group's records went out together: several decisions in one record batch, which a
    # producer writes with one produce request. (The one-command path sends each record as
    # a batch of its own. A batch holds up to the producer's max batch size, 16 KB: a group's
    # records beyond it take the next produce request.)
    [partition] = {r.partition for r in records}
    batches = await record_batches(stack.kafka_bootstrap, events_topic, partition)
    assert sum(n for _, n in batches) == len(HELPERS)
    assert max(n for _, n in batches) >= 2, (batches, groups)

    # The garbage alone was dead-lettered, with its reason and position.
    dead = env["DISPATCH_DEAD_LETTER_TOPIC"]
    [letter] = [
        DeadLetter.model_validate_json(r.value)
        for r in await read_topic(stack.kafka_bootstrap, dead, until=1)
    ]
    assert (letter.stage, letter.source_topic, letter.offset) == ("decode", commands_topic, 4)
    assert letter.reason.startswith("undecodable command")
    assert base64.b64decode(letter.payload_b64) == GARBAGE
    async with httpx.AsyncClient() as client:
        final = await stack.worker_stats(worker, client)
    assert final is not None and final["helpers"] == len(HELPERS)


async def test_the_events_topic_takes_the_agents_largest_record(stack: LocalStack) -> None:
    """The start-up check (streams/record_limit.py) reads the topic's effective limit."""
    limit = await events_max_message_bytes(stack.settings())
    assert limit is not None
    assert problem(limit) is None, limit


async def test_a_pruned_request_is_deleted_on_its_own_changelog_partition(
    stack: LocalStack,
) -> None:
    """A request closed more than a day before is pruned by the first command a worker
    takes, whatever its partition: the deletion marker must land on the request's own
    changelog partition, or a worker recovering that partition gets the request back."""
    settings = stack.settings()
    n = settings.topic_partitions
    partitions = list(range(n))
    partition_of = {
        c: DefaultPartitioner()(c.encode(), partitions, partitions) for c in ("pruned", "other")
    }
    assert partition_of["pruned"] != partition_of["other"], partition_of
    rid = "req-pruned"
    closed = datetime.now(UTC) - timedelta(days=3)
    spec = RequestSpec.model_validate(
        {**builders.request("pruned"), "request_id": rid, "community_id": "pruned"}
    )
    # As the dispatch agent's copies (streams/late_commands.py): decided at their own past
    # time, not sent again and decided now.
    submit = reissued(
        new_command(SubmitRequest(spec=spec), community_id="pruned", issued_at=closed), closed
    )
    cancel = reissued(
        new_command(
            CancelRequest(request_id=rid, by=Party.REQUESTER),
            community_id="pruned",
            issued_at=closed + timedelta(seconds=1),
        ),
        closed + timedelta(seconds=1),
    )
    for proc in stack.workers():  # the module's earlier tests' worker: a new process prunes
        proc.stop()
    async with CommandProducer(stack.kafka_bootstrap, settings.commands_topic) as producer:
        for command in (submit, cancel):
            await producer.send_raw("pruned", command.model_dump_json().encode())
    worker = stack.start_worker()

    async def processed(count: int) -> bool | None:
        stats = await stack.worker_stats(worker)
        return True if stats is not None and stats["commands"] >= count else None

    await eventually(lambda: processed(2), timeout=90, what="the request submitted, cancelled")
    worker.stop()
    # A new process prunes at its first command: one of another partition, taken now.
    async with CommandProducer(stack.kafka_bootstrap, settings.commands_topic) as producer:
        profile = HelperProfile.model_validate(builders.helper("h-other", "other", ["driving"]))
        await producer.send(UpsertHelper(profile=profile), "other")
    worker = stack.start_worker()
    await eventually(lambda: processed(1), timeout=90, what="the other command processed")

    changelog = f"{settings.app_id}-requests-changelog"

    async def marker() -> list[tuple[int, bool]] | None:
        records = await read_topic(stack.kafka_bootstrap, changelog, until=10**6, timeout=3)
        mine = [(r.partition, r.value is None) for r in records if r.key == rid.encode()]
        return mine if any(deleted for _, deleted in mine) else None

    mine = await eventually(marker, timeout=30, what="the request's deletion marker")
    # Every record of the request, the marker included, on the request's own partition.
    assert {p for p, _ in mine} == {partition_of["pruned"]}, mine
    assert mine[-1][1], mine
