"""The worker's `/metrics` page: our metrics, state-derived gauges, consumer lag, Faust's sensor.

Faust's Prometheus sensor gets a registry of its own (a shared one raises
DuplicateTimeseries when a second app is built in one process); the page exposes it next
to ours. Faust's latency histograms are in milliseconds (its names end in `_ms`); ours
are in seconds.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dispatcher.ops import metrics as process_metrics
from dispatcher.ops.faust_sensor import use_lean_sensor
from dispatcher.ops.metric_defs import DispatchMetrics

log = logging.getLogger(__name__)

FAUST_PREFIX = "dispatch_faust"


class WorkerStats(Protocol):
    """What `streams.runtime.Stats` offers (read only)."""

    commands: int
    events: int
    dead_letters: int
    recorded: int


class _StatsCollector(Collector):
    def __init__(self, stats: WorkerStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        s = self.stats
        for name, doc, value in (
            ("dispatch_commands_processed", "Commands the dispatch agent applied", s.commands),
            ("dispatch_events_emitted", "Events the dispatch agent produced", s.events),
            ("dispatch_events_recorded", "Events newly recorded in PostgreSQL", s.recorded),
            ("dispatch_dead_letters", "Messages sent to the dead-letter topic", s.dead_letters),
        ):
            yield CounterMetricFamily(name, doc, value=value)


class _OpenRequestsCollector(Collector):
    """Open requests of this worker's partitions, read from its state at scrape time (a
    gauge kept from events would drift when partitions move between workers)."""

    def __init__(self, requests: Callable[[], Iterable[Any]]) -> None:
        self.requests = requests

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "dispatch_open_requests",
            "Open requests in this worker's partitions",
            labels=["urgency"],
        )
        tally: Tally[str] = Tally()
        try:
            for r in list(self.requests()):
                if not r.terminal:
                    tally[str(r.spec.urgency)] += 1
        except Exception:  # the state is being rebuilt: report what we have
            log.debug("open requests not readable now", exc_info=True)
        for urgency, n in sorted(tally.items()):
            family.add_metric([urgency], n)
        yield family


def _is_changelog(topic: str) -> bool:
    return topic.endswith("-changelog")


async def consumer_lag(app: faust.App) -> dict[tuple[str, int], int]:
    """Per assigned source partition: end offset minus the next offset to commit.

    Faust's committed offset is the next one to read (Kafka's convention); before this
    worker has committed anything the consumer's position stands in for it. Changelog
    partitions are excluded (they are read, never committed).
    """
    consumer = app.consumer
    lag: dict[tuple[str, int], int] = {}
    for tp in sorted(consumer.assignment()):
        if _is_changelog(tp.topic):
            continue
        try:
            end = consumer.highwater(tp)
            done: int | None = getattr(consumer, "_committed_offset", {}).get(tp)
            if done is None:
                done = await consumer.position(tp)
        except Exception:  # not fetched yet, or a rebalance in progress
            continue
        if end is None or done is None:
            continue
        lag[(tp.topic, tp.partition)] = max(0, int(end) - int(done))
    return lag


@dataclass
class WorkerMetrics:
    app: faust.App
    registry: CollectorRegistry  # ours: event metrics, deadlines, deliveries
    local: CollectorRegistry  # this app's state-derived gauges and counters
    faust: CollectorRegistry  # Faust's own sensor
    metrics: DispatchMetrics

    async def refresh_lag(self) -> None:
        gauge = self.metrics.consumer_lag
        try:
            lag = await consumer_lag(self.app)
        except Exception:
            log.debug("consumer lag unavailable", exc_info=True)
            return
        gauge.clear()  # partitions revoked since the last scrape must disappear
        for (topic, partition), value in lag.items():
            gauge.labels(topic, str(partition)).set(value)

    def exposition(self) -> bytes:
        return b"".join(generate_latest(r) for r in (self.registry, self.local, self.faust))


def install_worker_metrics(
    app: faust.App,
    *,
    stats: WorkerStats | None = None,
    requests: Callable[[], Iterable[Any]] | None = None,
    path: str = "/metrics",
) -> WorkerMetrics:
    """Install Faust's sensor and a `/metrics` page on the worker's web server.

    `stats` exposes the worker's counters; `requests` returns the request states of this
    worker (open ones are counted per urgency at scrape time).
    """
    faust_registry = CollectorRegistry()
    # Faust's own page moves aside: ours at `path` serves both registries.
    setup_prometheus_sensors(
        app, pattern=f"{path}/faust", registry=faust_registry, name_prefix=FAUST_PREFIX
    )
    use_lean_sensor(app)  # the same metrics, without a label lookup per message
    local = CollectorRegistry(auto_describe=True)
    if stats is not None:
        local.register(_StatsCollector(stats))
    if requests is not None:
        local.register(_OpenRequestsCollector(requests))
    wm = WorkerMetrics(
        app=app,
        registry=process_metrics.REGISTRY,
        local=local,
        faust=faust_registry,
        metrics=process_metrics.METRICS,
    )

    @app.page(path, name="dispatch_metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        await wm.refresh_lag()
        return web.bytes(wm.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return wm
