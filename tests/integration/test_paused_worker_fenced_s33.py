"""A worker stopped for longer than the session timeout applies nothing of the partitions it
lost once resumed (streams/membership_lease.py; session 33).

Before: the broker expelled the stopped worker and the survivor took its partitions over and
served their commands; on SIGCONT, before its next heartbeat told it of the eviction, the
stopped worker fetched and applied those same commands again, from its old position (a chaos
run: 12 and 27 commands, 0.1-0.5 s after SIGCONT, some 5 s after the survivor), its changelog
records and events landing after the survivor's. Now it holds them while its membership is
unconfirmed and lets them go, unapplied and unacknowledged, when the rebalance begins.

Here one of two workers is SIGSTOPped while idle, commands are sent for its partitions, the
survivor serves them all, and the stopped worker is resumed: from its trace, it applies no
command between SIGCONT and its next ownership (the state of its new assignment).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from functools import partial
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dispatcher.testing.stack import LocalStack, Proc
from schemas.commands import Command
from tests.integration.test_crash_two_workers import both_own, diagnosis, owned_by
from tests.support import builders, chaos
from tests.support.bot import BotClient
from tests.support.waiting import eventually

COMMUNITIES = [f"fenced-{p}" for p in range(4)]  # placed: community i on partition i
PER_PARTITION = 1500  # copies of a request command: a backlog the worker is stopped in


async def last_commands(stack: LocalStack, partitions: set[int]) -> dict[int, bytes]:
    """Per partition, the value of its last command (a request the API sent)."""
    topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        out = {}
        for tp in tps:
            consumer.seek(tp, ends[tp] - 1)
            out[tp.partition] = (await consumer.getone(tp)).value
        return out
    finally:
        await consumer.stop()


async def send_copies(stack: LocalStack, templates: dict[int, bytes], n: int) -> None:
    """`n` copies of each partition's template, each a new command of a new request, sent
    to that partition as fast as the producer batches them."""
    topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = []
        for _ in range(n):
            for p, raw in templates.items():
                command = Command.model_validate_json(raw)
                copy = command.model_copy(
                    update={
                        "command_id": str(uuid.uuid4()),
                        "body": command.body.model_copy(update={"request_id": str(uuid.uuid4())}),
                    }
                )
                value = copy.model_dump_json().encode()
                futures.append(
                    await producer.send(
                        topic, value, key=command.community_id.encode(), partition=p
                    )
                )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def commands(lines: list[dict[str, Any]]) -> dict[tuple[int, int], float]:
    return {(x["p"], x["o"]): x["at"] for x in lines if x["k"] == "cmd"}


def after_resume(lines: list[dict[str, Any]], since: float) -> tuple[list[dict[str, Any]], bool]:
    """The worker's `cmd` lines after `since` (SIGCONT) and before its next `own` line (applied
    under the membership it had lost), and whether that `own` line came."""
    stale = []
    for line in lines:
        if line["at"] <= since:
            continue
        if line["k"] == "own":
            return stale, True
        if line["k"] == "cmd":
            stale.append(line)
    return stale, False


async def test_a_worker_resumed_after_its_eviction_applies_no_command_it_lost(
    stack: LocalStack,
) -> None:
    stack.extra_env.update(
        {
            "DISPATCH_TRACE_DIR": str(stack.root / "trace"),
            "DISPATCH_RECONCILE_ENABLED": "false",
            "DISPATCH_COMMUNITY_PARTITIONS": json.dumps({c: p for p, c in enumerate(COMMUNITIES)}),
        }
    )
    stack.bot_communities.update(COMMUNITIES)
    await stack.start_api()
    procs: dict[str, Proc] = {w: stack.start_worker(w) for w in ("worker-1", "worker-2")}
    trace_dir = stack.root / "trace"
    await both_own(stack)
    survivor, victim = "worker-1", "worker-2"
    theirs = owned_by(stack, victim)
    stopped = False
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            bot = BotClient(client)
            for p in sorted(theirs):  # the victim serves its partitions, then is idle
                r = await bot.post("/v1/requests", builders.request(COMMUNITIES[p]))
                assert r.status_code == 202, r.text

            async def victim_idle() -> bool:
                ends = await chaos.end_offsets(stack)
                done = commands(chaos.read_traces(trace_dir).get(victim, []))
                return all((p, ends[p] - 1) in done for p in theirs)

            await eventually(victim_idle, timeout=60, what=f"{victim} to serve {sorted(theirs)}")

            start = await chaos.end_offsets(stack)
            templates = await last_commands(stack, theirs)
            flood = asyncio.create_task(send_copies(stack, templates, PER_PARTITION))

            async def victim_busy() -> bool:  # applying the copies, far from done
                done = commands(chaos.read_traces(trace_dir).get(victim, []))
                return any(o >= start[p] for p, o in done)

            await eventually(victim_busy, timeout=60, every=0.02, what=f"{victim} to apply copies")
            procs[victim].popen.send_signal(signal.SIGSTOP)
            stopped = True
            stopped_at = time.time()
            await flood
            end = await chaos.end_offsets(stack)
            before = commands(chaos.read_traces(trace_dir).get(victim, []))
            sent = {(p, o) for p in theirs for o in range(start[p], end[p])} - set(before)
            # Stopped with a backlog: commands fetched, or to be fetched, not applied.
            assert sent, "the stopped worker had applied every command already"

            async def survivor_served() -> bool:
                return sent <= set(commands(chaos.read_traces(trace_dir).get(survivor, [])))

            # The survivor gets them only once the broker has expelled the stopped worker.
            await eventually(
                survivor_served,
                timeout=120,
                what=f"{survivor} to serve the commands sent to {sorted(theirs)}",
                explain=partial(diagnosis, stack, procs, survivor, stopped_at),
            )
            procs[victim].popen.send_signal(signal.SIGCONT)
            stopped = False
            resumed_at = time.time()

            async def owns_again() -> bool:
                lines = chaos.read_traces(trace_dir).get(victim, [])
                return after_resume(lines, resumed_at)[1]

            await eventually(
                owns_again,
                timeout=120,
                what=f"{victim} to own partitions again after SIGCONT",
                explain=partial(diagnosis, stack, procs, victim, resumed_at),
            )
    finally:
        if stopped:
            procs[victim].popen.send_signal(signal.SIGCONT)

    lines = chaos.read_traces(trace_dir)
    resumed, _ = after_resume(lines.get(victim, []), resumed_at)
    # A group that passed its membership check before SIGSTOP, its table records then being
    # queued, is written on SIGCONT (the lease's window, streams/membership_lease.py): any
    # other line is a command applied by a worker that had lost its partitions.
    in_flight = [x for x in resumed if x.get("ck") is not None and x["ck"] <= stopped_at]
    stale = [x for x in resumed if x not in in_flight]
    served = commands(lines.get(survivor, []))
    log = procs[victim].log_path.read_text(errors="replace")
    let_go = [x for x in log.splitlines() if "let go unapplied" in x]
    print(
        "\npaused worker:",
        json.dumps(
            {
                "backlog_at_stop": len(sent),
                "applied_after_sigcont": len(stale),
                "of_them_served_by_survivor": sum((x["p"], x["o"]) in served for x in stale),
                "in_flight_at_stop": len(in_flight),
                "let_go_lines": let_go[:2],
            }
        ),
    )
    # Before the fix: commands of the backlog, applied again after the survivor had.
    assert not stale, [(x["p"], x["o"], x["c"]) for x in stale[:10]]
