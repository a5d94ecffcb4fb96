"""A worker killed after deciding a request but before Kafka acknowledged its `requests`
changelog record, restarted on its own data directory (as a supervisor restarts it), must
leave the request in the changelog: the changelog is what every other worker recovers the
partition from (a takeover, a scale-out, a lost disk).

The worker loads tests/support/held_changelog_ack/sitecustomize.py, which holds that one
record's produce forever. Before the fix (streams/changelog_writes.py) the value was put
into RocksDB first: the restarted worker rebuilt its state from that store, took the replayed
command as applied, wrote nothing, and the changelog never got the request, which then never
escalated on any worker that recovered it from there."""

from __future__ import annotations

import pytest

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack, Proc
from schemas.commands import SubmitRequest, UpsertHelper
from tests.support.chaos import committed_offsets, end_offsets
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually
from tests.unit.conftest import COMMUNITY, World

pytestmark = pytest.mark.integration

HOOK_DIR = REPO_ROOT / "tests" / "support" / "held_changelog_ack"
HELD = "req-held"


async def changelog_keys(stack: LocalStack, until: int) -> set[bytes]:
    topic = f"{stack.app_id}-requests-changelog"
    return {r.key for r in await read_topic(stack.kafka_bootstrap, topic, until=until, timeout=5)}


async def held(proc: Proc) -> bool:
    return "held-ack hook: holding" in proc.log_path.read_text(errors="replace")


async def owning(stack: LocalStack, proc: Proc) -> bool:
    stats = await stack.worker_stats(proc)
    return bool(stats and stats.get("partitions"))


async def test_a_request_decided_before_a_kill_reaches_the_changelog(stack: LocalStack) -> None:
    world = World()
    stack.extra_env.update({"PYTHONPATH": str(HOOK_DIR), "DISPATCH_TEST_HOLD_KEY": HELD})
    # No deadline in the test's time: only the replayed command can write the request.
    stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = "20"
    worker = stack.start_worker("worker-1")
    await eventually(lambda: owning(stack, worker), timeout=120, what="the worker to own")
    topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
    async with CommandProducer(stack.kafka_bootstrap, topic) as producer:
        await producer.send(UpsertHelper(profile=world.helper("h1")), COMMUNITY)
        await producer.send(SubmitRequest(spec=world.spec("req-ok")), COMMUNITY)

        async def ok_in_changelog() -> bool:
            return b"req-ok" in await changelog_keys(stack, until=1)

        await eventually(ok_in_changelog, what="the first request's changelog record")
        await producer.send(SubmitRequest(spec=world.spec(HELD)), COMMUNITY)
        await eventually(lambda: held(worker), what="the held changelog record")
    worker.kill()
    del stack.extra_env["PYTHONPATH"], stack.extra_env["DISPATCH_TEST_HOLD_KEY"]
    worker = stack.start_worker("worker-1")  # the same data directory

    async def replayed() -> bool:
        ends, committed = await end_offsets(stack), await committed_offsets(stack)
        return all(max(committed.get(p, 0), 0) == end for p, end in ends.items())

    # Committed: the replayed command's records were acknowledged before its commit.
    await eventually(replayed, timeout=120, what="the replayed commands committed")
    assert HELD.encode() in await changelog_keys(stack, until=2)
    worker.stop()
