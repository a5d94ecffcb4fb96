"""The stream's health for the dashboard's charts: consumer lag per partition, commands and
events per second, dead letters, worker liveness, push failures per endpoint.

Where each figure comes from, and why:
- lag, rates, dead letters and group membership from the **broker** (end and log start
  offsets, the groups' committed offsets, DescribeGroups): the broker's view stays true
  when a worker is dead or stuck (its partitions' lag keeps growing), which a worker's own
  /metrics cannot show, and the API already reaches the broker;
- push outcomes per endpoint from each **worker's /stats** page (`DISPATCH_WORKER_WEB_URLS`):
  only the worker sends pushes, and endpoint names (which can name a community) are kept
  out of Prometheus labels, so they are served as JSON to staff only. The same probe says
  whether each worker answers.

Samples are taken when the dashboard asks (at most one per `MIN_INTERVAL_S`), kept in a
ring of `KEEP` samples; rates come from consecutive samples. `health_view` is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.clock import SystemClock
from dispatcher.kafka_security import client_options
from dispatcher.settings import Settings

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 2.0
KEEP = 150  # 5 minutes at the dashboard's 2 s poll
PROBE_TIMEOUT_S = 2.0

TP = tuple[str, int]


@dataclass(frozen=True)
class WorkerProbe:
    url: str
    alive: bool
    name: str | None = None
    partitions: tuple[int, ...] = ()
    push: dict[str, dict[str, int]] = field(default_factory=dict)  # endpoint → counts


@dataclass(frozen=True)
class Sample:
    at: float  # wall seconds
    ends: dict[TP, int]
    committed: dict[tuple[str, str, int], int] = field(default_factory=dict)  # → next offset
    starts: dict[TP, int] = field(default_factory=dict)  # log start: the oldest record kept
    members: tuple[str, ...] = ()  # the dispatch group's members (static ids when set)
    group_state: str = ""
    workers: tuple[WorkerProbe, ...] = ()


def _rate(later: Sample, earlier: Sample, topic: str) -> float:
    dt = later.at - earlier.at
    if dt <= 0:
        return 0.0
    grown = sum(
        max(0, end - earlier.ends.get(tp, end)) for tp, end in later.ends.items() if tp[0] == topic
    )
    return round(grown / dt, 3)


def _total(s: Sample, topic: str) -> int:
    return sum(end for tp, end in s.ends.items() if tp[0] == topic)


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def worker_name(member_id: str, app_id: str) -> str:
    """`<app>.<worker>.<port>-<uuid>` (static membership, streams/app.py) → `<worker>`;
    any other member id as given."""
    m = re.fullmatch(rf"{re.escape(app_id)}\.(?P<worker>[^.]+)\.\d+-{_UUID}", member_id)
    return m.group("worker") if m else member_id


def _lag_row(s: Sample, group: str, tp: TP) -> dict[str, Any]:
    """One bar. Every group here starts from the earliest offset (auto_offset_reset), so a
    partition it never committed on (a new group, an idle partition), or whose commit
    retention has overtaken, has all it retains still to read: end − log start, not 0."""
    done = s.committed.get((group, *tp))
    start = s.starts.get(tp, 0)
    reads_from = start if done is None else max(start, done)
    end = s.ends.get(tp, reads_from)
    return {
        "group": group,
        "topic": tp[0],
        "partition": tp[1],
        "committed": done,
        "no_commit": done is None,
        "end": end,
        "lag": max(0, end - reads_from),
    }


def _lag(s: Sample, groups: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """Every partition of every group's topics, committed on or not."""
    rows: list[dict[str, Any]] = []
    for group, group_topics in sorted(groups.items()):
        tps = {tp for tp in s.ends if tp[0] in group_topics}
        tps |= {(t, p) for (g, t, p) in s.committed if g == group and t in group_topics}
        rows += [_lag_row(s, group, tp) for tp in sorted(tps)]
    return rows


def health_view(
    samples: list[Sample],
    topics: dict[str, str],
    app_id: str,
    groups: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    """What the dashboard draws. `topics`: role (commands, events, dead_letters) → name;
    `app_id`: the workers' group (their static member ids start with it); `groups`: each
    consumer group → the topics it consumes (`StreamHealth.groups`)."""
    if not samples:
        return {"sampled_at": None, "lag": [], "rates": [], "workers": [], "push": []}
    last = samples[-1]
    lag = _lag(last, groups)
    rates = [
        {
            "at": later.at,
            "commands_per_s": _rate(later, earlier, topics["commands"]),
            # Records, from offsets: one per decision, its events batched (issue 18).
            "events_per_s": _rate(later, earlier, topics["events"]),
            "dead_letters": _total(later, topics["dead_letters"]),
        }
        for earlier, later in itertools.pairwise(samples)
    ]
    members = {worker_name(m, app_id) for m in last.members}
    workers = [
        {
            "name": w.name or w.url,
            "url": w.url,
            "alive": w.alive,
            "in_group": (w.name in members) if w.name else False,
            "partitions": list(w.partitions),
        }
        for w in last.workers
    ]
    named = {w.name for w in last.workers if w.name}
    workers += [  # members nobody probes (another host): known from the broker alone
        {"name": m, "url": None, "alive": None, "in_group": True, "partitions": []}
        for m in sorted(members - named)
    ]
    push: dict[str, dict[str, int]] = {}
    for w in last.workers:
        for endpoint, counts in w.push.items():
            into = push.setdefault(endpoint, {"delivered": 0, "failed": 0})
            for k in into:
                into[k] += int(counts.get(k, 0))
    return {
        "sampled_at": last.at,
        "group_state": last.group_state,
        "dead_letters": _total(last, topics["dead_letters"]),
        "lag": lag,
        "rates": rates,
        "workers": workers,
        "push": [{"endpoint": e, **c} for e, c in sorted(push.items())],
    }


async def topic_partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    """Every partition of `topics`, from one metadata request. Not the consumer's
    `partitions_for_topic`: a consumer that neither subscribes nor is assigned keeps no
    metadata for a topic (None), which left the end offsets empty and every lag at 0. A
    topic the broker does not know has no partitions here (error code, empty list)."""
    described = await admin.describe_topics(topics)
    return [
        TopicPartition(str(t["topic"]), int(p["partition"]))
        for t in described
        for p in t["partitions"]
    ]


@dataclass
class StreamHealth:
    """Samples the broker and the workers; one per API process, started on first use."""

    settings: Settings
    wall: Callable[[], float] = lambda: SystemClock().now().timestamp()
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=KEEP))
    _admin: AIOKafkaAdminClient | None = None
    _consumer: AIOKafkaConsumer | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def topics(self) -> dict[str, str]:
        s = self.settings
        return {
            "commands": s.commands_topic,
            "events": s.events_topic,
            "dead_letters": s.dead_letter_topic,
        }

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Consumer group → the topics it commits (the Faust app; the record agent)."""
        s = self.settings
        return {
            s.app_id: (s.commands_topic, s.events_topic),
            f"{s.app_id}-record": (s.events_topic,),
        }

    def worker_urls(self) -> list[str]:
        s = self.settings
        return list(s.worker_web_urls) or [f"http://{s.worker_web_host}:{s.worker_web_port}"]

    async def view(self) -> dict[str, Any]:
        async with self._lock:
            if not self.samples or self.wall() - self.samples[-1].at >= MIN_INTERVAL_S:
                self.samples.append(await self._sample())
            return health_view(list(self.samples), self.topics, self.settings.app_id, self.groups)

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            options = client_options(self.settings)  # TLS/SASL as every other client
            admin = AIOKafkaAdminClient(**options)
            consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
            await admin.start()
            await consumer.start()
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def _sample(self) -> Sample:
        at = self.wall()
        workers = await asyncio.gather(*(self._probe(u) for u in self.worker_urls()))
        try:
            admin, consumer = await self._clients()
            parts = await topic_partitions(admin, list(self.topics.values()))
            ends = await consumer.end_offsets(parts) if parts else {}
            starts = await consumer.beginning_offsets(parts) if parts else {}
            committed: dict[tuple[str, str, int], int] = {}
            for group, topics in self.groups.items():
                offsets = await admin.list_consumer_group_offsets(group)
                for tp, meta in offsets.items():
                    if tp.topic in topics and meta.offset >= 0:
                        committed[(group, tp.topic, tp.partition)] = meta.offset
            members, state = await self._members(admin)
        except Exception as exc:  # the broker is away: show the workers, say so
            log.warning("stream health: broker not readable (%s)", type(exc).__name__)
            await self.close()
            return Sample(at=at, ends={}, committed={}, workers=tuple(workers))
        return Sample(
            at=at,
            ends={(tp.topic, tp.partition): int(end) for tp, end in ends.items()},
            committed=committed,
            starts={(tp.topic, tp.partition): int(start) for tp, start in starts.items()},
            members=members,
            group_state=state,
            workers=tuple(workers),
        )

    async def _members(self, admin: AIOKafkaAdminClient) -> tuple[tuple[str, ...], str]:
        responses = await admin.describe_consumer_groups([self.settings.app_id])
        for response in responses:
            for group in response.groups:
                # (error_code, group, state, protocol_type, protocol, members, …)
                if group[1] == self.settings.app_id:
                    return tuple(str(m[0]) for m in group[5]), str(group[2])
        return (), ""

    async def _probe(self, url: str) -> WorkerProbe:
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
                r = await client.get(url.rstrip("/") + "/stats")
                r.raise_for_status()
                doc = r.json()
        except (httpx.HTTPError, ValueError):
            return WorkerProbe(url=url, alive=False)
        return WorkerProbe(
            url=url,
            alive=True,
            name=str(doc.get("worker") or "") or None,
            partitions=tuple(int(p) for p in doc.get("partitions", [])),
            push={str(k): dict(v) for k, v in (doc.get("push") or {}).items()},
        )

    async def close(self) -> None:
        consumer, admin = self._consumer, self._admin
        self._admin = self._consumer = None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
