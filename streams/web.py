"""The worker's web pages: /healthz, /readyz, /stats (JSON counters) and /metrics
(Prometheus)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from dispatcher.ops.worker_metrics import install_worker_metrics
from dispatcher.stats import percentile
from streams.faust_consumer import ContiguousConsumer
from streams.faust_recovery import SeekFirstRecovery
from streams.gc_freeze import AGEING as GC_AGEING
from streams.gc_stats import WATCH as GC_WATCH
from streams.loop_census import CENSUS as LOOP_CENSUS
from streams.runtime import WorkerRuntime


def percentiles(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 0.50),
        "p99": percentile(values, 0.99),
        "max": max(values, default=None),
    }


def stats_page(rt: WorkerRuntime, worker_name: str) -> dict[str, Any]:
    s = rt.stats
    return {
        "worker": worker_name,
        "partitions": sorted(rt.state.partitions),
        "open_requests": sum(1 for r in rt.state.core.requests.live() if not r.terminal),
        "helpers": len(rt.state.core.helpers),
        "commands": s.commands,
        "reissued": s.reissued,  # sent again, decided from the copy (late_commands)
        "decided_at_ack": s.decided_at_ack,  # of those, decided at once (directly behind)
        "events": s.events,
        "dead_letters": s.dead_letters,
        "command_groups": dict(sorted(s.command_groups.items())),
        "recorded": s.recorded,
        "table_writes": s.table_writes,
        # Events records: handed over by the dispatch agent, taken by a reader from here,
        # decoded by a reader (another worker's records; streams/decoded_events.py).
        "decoded_events": rt.decoded.summary(),
        "deadline_lateness_s": percentiles(s.deadline_lateness_s),
        "deadlines_fired": len(s.deadline_lateness_s),
        "push": s.push,  # endpoint → delivered / failed for good
        "lanes": s.lanes(),  # per endpoint: queued, in flight, concurrency cap
        "notify_early": s.notify_early(),  # events pushed before their record was read back
        "notify_from_record": s.notify_from_record(),  # pushed from it: read first, or early off
        # Stalls long enough to be expelled; pushes wait after one (streams/stall_gate.py).
        "push_stalls": s.push_stalls(),
        # Per community: the plan set, quiet hours and zone new requests are decided with.
        "communities": {c: p.summary() for c, p in sorted(rt.communities.items())},
        # The collector's pauses since start-up (streams/gc_stats.py; zeros until installed).
        "gc": GC_WATCH.summary() | {"ageing_freeze": GC_AGEING.summary()},
        # Callbacks that held a loop long, by task (streams/loop_census.py; None: off).
        "loop_census": LOOP_CENSUS.summary(),
    }


def readiness(rt: WorkerRuntime) -> tuple[bool, dict[str, Any]]:
    """Whether the worker serves its assignment now: a member of the group, not in a
    rebalance, and this generation's tables recovered (`SeekFirstRecovery.ready_generation`,
    the condition its stall report watches). Read only: the state itself is rebuilt by the
    first command or event that needs it (`WorkerRuntime.state_ready`)."""
    app: Any = rt.app
    generation = app.consumer_generation_id
    recovery = app.tables.recovery
    if isinstance(recovery, SeekFirstRecovery):
        recovered = recovery.ready_generation == generation
    else:  # unpatched Faust (diagnostics only): its flags, as `state_ready` reads them
        recovered = recovery.completed.is_set() and not recovery.in_recovery
    if generation <= 0:
        status = "joining"  # not yet a member of the group (Kafka's generations start at 1)
    elif app.rebalancing:
        status = "rebalancing"
    elif not recovered:
        status = "recovering"  # this generation's tables not recovered yet
    else:
        status = "ready"
    page: dict[str, Any] = {"status": status, "generation": generation}
    if status == "ready":
        page["partitions"] = sorted(rt.assigned_partitions())
    return status == "ready", page


FETCHING_TIMEOUT_S = 0.5


async def fetching(rt: WorkerRuntime) -> dict[str, int] | None:
    """Per topic, how many partitions the worker's Faust consumer fetches: the streams'
    (commands, events), not the recovered changelogs (streams/faust_consumer.py)."""
    consumer = rt.app.consumer
    if not isinstance(consumer, ContiguousConsumer):
        return None  # unpatched Faust (diagnostics): it fetches every assigned partition
    try:  # asked of the consumer thread: never let it hold up or fail the page (liveness)
        fetched = await asyncio.wait_for(consumer.fetching(), FETCHING_TIMEOUT_S)
    except Exception:  # not started yet, stopping, or busy
        return None
    return dict(sorted(Counter(topic for topic, _ in fetched).items()))


def install_pages(rt: WorkerRuntime, worker_name: str) -> None:
    app = rt.app

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "worker": worker_name})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        # A rolling update waits for this (deploy/k8s/worker.yaml): the next worker is
        # stopped only once this one serves, not while its recovery would be cut short.
        ready, page = readiness(rt)
        return web.json(page | {"worker": worker_name}, status=200 if ready else 503)

    @app.page("/stats")
    async def stats(web: Any, request: Any) -> Any:
        page = stats_page(rt, worker_name)
        page["fetching"] = await fetching(rt)
        return web.json(page)

    install_worker_metrics(app, stats=rt.stats, requests=lambda: rt.state.core.requests.live())
