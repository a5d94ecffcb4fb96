"""The worker's topology: topics, tables, the dispatch agent, the deadline timer, the record agent.

Agents are thin: decode, call the core, emit. Nothing escapes an agent: what cannot be
decoded or processed is dead-lettered with its reason and position, and consumption goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import faust
from aiokafka.partitioner import murmur2
from pydantic import ValidationError

from dispatcher.core import apply as apply_decision
from dispatcher.core import decide
from dispatcher.ops import metrics as ops_metrics
from dispatcher.ops.worker_metrics import install_worker_metrics
from dispatcher.plans import scaled_plans
from dispatcher.push import EndpointRegistry
from dispatcher.record.migrate import apply_migrations
from dispatcher.record.projection import record_events
from dispatcher.redact import describe
from dispatcher.settings import Settings
from schemas.commands import Command, deadline_command
from schemas.events import Event
from schemas.plans import EscalationPlan
from schemas.vocab import Urgency
from streams.app import create_faust_app
from streams.dead_letter import send_dead_letter
from streams.faust_consumer import EXIT_OFFSET_HOLE
from streams.faust_recovery import SeekFirstRecovery
from streams.notify import Notifier
from streams.recorder import run_recorder
from streams.state_store import WorkerState, encode_record
from streams.trace import Trace

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 60  # × 0.5 s
STATE_WAIT_TICKS = 600  # × 50 ms: how long a message waits for its partition's state
PRUNE_EVERY_S = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Stats:
    """Counters the worker's web page and metrics read."""

    commands: int = 0
    events: int = 0
    dead_letters: int = 0
    recorded: int = 0
    deadline_lateness_s: list[float] = field(default_factory=list)

    def note_lateness(self, seconds: float) -> None:
        self.deadline_lateness_s.append(seconds)
        if len(self.deadline_lateness_s) > 100_000:
            del self.deadline_lateness_s[:50_000]


@dataclass
class Topology:
    settings: Settings
    app: faust.App
    commands: Any
    events: Any
    dead_letters: Any
    requests_table: Any
    helpers_table: Any
    state: WorkerState = field(default_factory=WorkerState)
    stats: Stats = field(default_factory=Stats)
    plans: dict[Urgency, EscalationPlan] = field(default_factory=dict)
    notifier: Any = None
    last_offsets: dict[Any, tuple[int, int]] = field(default_factory=dict)
    pool: asyncpg.Pool | None = None
    last_prune: float = 0.0
    trace: Trace = field(default_factory=lambda: Trace(None, ""))
    # partition -> wall time since when this worker owns it without interruption
    owned_since: dict[int, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ state
    def assigned_partitions(self) -> frozenset[int]:
        return frozenset(
            tp.partition
            for tp in self.app.consumer.assignment()
            if tp.topic == self.settings.commands_topic
        )

    def state_ready(self) -> bool:
        """Rebuild the in-memory state once recovery of a new assignment has completed.

        Returns whether the state matches the current assignment. During a revoke the
        generation has not changed yet, so in-flight messages of the old assignment are
        still served by the (still valid) old state.
        """
        app = self.app
        generation = app.consumer_generation_id
        if self.state.generation == generation:
            return True
        recovery = app.tables.recovery
        if isinstance(recovery, SeekFirstRecovery):
            if recovery.ready_generation != generation:
                return False  # this generation's tables are not recovered yet
        elif not recovery.completed.is_set() or recovery.in_recovery:
            return False  # unpatched Faust (diagnostics only): racy, see faust_recovery.py
        partitions = self.assigned_partitions()
        self.state = WorkerState.rebuild(
            self.requests_table.items(),
            self.helpers_table.items(),
            partitions,
            generation,
            plans=self.plans,
        )
        now = time.time()
        self.owned_since = {p: self.owned_since.get(p, now) for p in partitions}
        self.trace.write("own", g=generation, ps=sorted(partitions))
        return True

    async def owns(self, partition: int) -> bool:
        """Whether this worker's state covers `partition` now, waiting out a recovery.

        A valid command is never dead-lettered for a transient state: if the partition was
        revoked meanwhile, the message is left to its new owner (Faust discards commits of
        revoked partitions); if the state cannot be had at all, the worker exits so that
        its supervisor restarts it and the command is processed again.
        """
        for _ in range(STATE_WAIT_TICKS):
            if self.state_ready() and partition in self.state.partitions:
                return True
            if partition not in self.assigned_partitions() and not self.app.rebalancing:
                log.info("partition %s moved away: leaving its message to the new owner", partition)
                return False
            await asyncio.sleep(0.05)
        log.critical(
            "no state for partition %s after %.0f s: exiting to be restarted",
            partition,
            STATE_WAIT_TICKS * 0.05,
        )
        os._exit(75)  # EX_TEMPFAIL: the supervisor restarts; the command is re-read

    # ------------------------------------------------------------------ dispatch
    async def handle_command(self, event: Any) -> None:
        self._check_offset(event)
        msg = event.message
        try:
            command = Command.model_validate_json(event.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(event, f"undecodable command: {_short(exc)}", "decode")
            self.trace.write("cmd", p=msg.partition, o=msg.offset, c=None, t="dead_letter")
            return
        try:
            done = await self._dispatch(command, msg.partition)
        except Exception as exc:  # never let one command stop the partition
            log.exception("command %s failed", command.command_id)
            await self._dead_letter(event, f"{type(exc).__name__}: {_short(exc)}", "process")
            done = True
        if done and self.trace.enabled:
            self.trace.write(
                "cmd",
                p=msg.partition,
                o=msg.offset,
                c=command.command_id,
                t=command.body.type,
                i=command.issued_at.timestamp(),
                ow=self.owned_since.get(msg.partition),
            )

    def _check_offset(self, event: Any) -> None:
        msg = event.message
        tp = msg.tp
        gen = self.app.consumer_generation_id
        last = self.last_offsets.get(tp)
        if last is None or last[0] != gen:
            committed = self.app.consumer._committed_offset.get(tp)
            log.info(
                "first offset of %s in generation %s: %s (committed %s)",
                tp.partition,
                gen,
                msg.offset,
                committed,
            )
            if committed is not None and msg.offset > committed:
                self._offset_violation(f"first offset {msg.offset} above committed {committed}")
        elif msg.offset > last[1] + 1:
            self._offset_violation(f"offset {msg.offset} after {last[1]}")
        self.last_offsets[tp] = (gen, msg.offset)

    def _offset_violation(self, what: str) -> None:
        """A record was skipped: stop (the supervisor restarts us from the committed offset)
        rather than go on without it. With the fixes off (a diagnostic run) only log it."""
        if not self.settings.faust_offset_fixes:
            log.warning("offset gap: %s", what)
            return
        log.critical("offset gap in the dispatch agent: %s; exiting to be restarted", what)
        logging.shutdown()
        os._exit(EXIT_OFFSET_HOLE)

    async def _dispatch(self, command: Command, partition: int) -> bool:
        """Decide, emit, store. False when the partition moved away (its new owner will)."""
        if not await self.owns(partition):
            return False
        wall = utcnow()
        # Decide with the command's own time: a command replayed after a crash then yields
        # exactly the same events and ids (the wall clock would not), and a deadline processed
        # late still climbs the ladder on schedule. Clamped: a clock ahead of ours is not trusted.
        now = min(command.issued_at, wall)
        body = command.body
        if body.type == "deadline_reached":
            lateness = (wall - command.issued_at).total_seconds()
            self.stats.note_lateness(lateness)
            ops_metrics.observe_deadline_lateness(lateness)
        decision = decide(self.state.core, command, now)
        self.stats.commands += 1
        if decision.events:
            # Events first, acknowledged by Kafka, then the tables: a crash in between
            # replays the command, which yields the same event ids (the consumers dedupe).
            futures = [
                await self.events.send(
                    key=e.community_id.encode(), value=e.model_dump_json().encode()
                )
                for e in decision.events
            ]
            await asyncio.gather(*futures)
            self.stats.events += len(decision.events)
        await self._store(decision, partition)
        apply_decision(self.state.core, decision)
        self.state.note_decision(decision)
        self._maybe_prune(now)
        return True

    async def _store(self, decision: Any, partition: int) -> None:
        """Write the decision's records. Its events are already out, so giving up here would
        leave the state behind them: retry (a just-created changelog topic can briefly be
        missing from metadata), and if that never works, exit so the command is replayed."""
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                for rid, request in decision.requests.items():
                    self.requests_table[rid.encode()] = encode_record(partition, request)
                for hid, helper in decision.helpers.items():
                    self.helpers_table[hid.encode()] = encode_record(partition, helper)
                return
            except Exception as exc:
                log.warning("table write failed (%s), retry %d", type(exc).__name__, attempt)
                await asyncio.sleep(0.5)
        log.critical("table writes keep failing: exiting so the command is replayed")
        os._exit(75)

    def _maybe_prune(self, now: datetime) -> None:
        mono = time.monotonic()
        if mono - self.last_prune < PRUNE_EVERY_S:
            return
        self.last_prune = mono
        for rid in self.state.core.prune(now):
            self.requests_table.pop(rid.encode(), None)

    async def fire_deadlines(self) -> int:
        """Turn due deadlines of this worker's partitions into commands."""
        if not self.state_ready():
            return 0
        now = utcnow()
        due = self.state.pop_due(now)
        sent: list[Any] = []
        for item in due:
            if self.trace.enabled:
                p = partition_for(item.community_id, self.settings.topic_partitions)
                self.trace.write(
                    "fire",
                    p=p,
                    r=item.request_id,
                    s=item.step,
                    due=item.due_at.timestamp(),
                    owned=self.owned_since.get(p),
                    attempt=item.attempt,
                    restored=item.restored,
                )
            cmd = deadline_command(
                request_id=item.request_id,
                community_id=item.community_id,
                step=item.step,
                due_at=item.due_at,
            )
            sent.append(
                await self.commands.send(
                    key=item.community_id.encode(), value=cmd.model_dump_json().encode()
                )
            )
        results = await asyncio.gather(*sent, return_exceptions=True)
        for item, result in zip(due, results, strict=True):
            ok = not isinstance(result, BaseException)
            if not ok:
                log.warning("deadline command not sent (%s): retrying", type(result).__name__)
            self.state.retry_later(item, now, acknowledged=ok)
        return len(due)

    # ------------------------------------------------------------------ notify
    async def send_command(self, command: Command) -> None:
        fut = await self.commands.send(
            key=command.community_id.encode(), value=command.model_dump_json().encode()
        )
        await fut

    def observe_push(self, endpoint: str, ok: bool, latency: float | None) -> None:
        # Label by endpoint kind (webhook, wecom…), never by name: bounded cardinality.
        kind = self.notifier.registry.get(endpoint).kind.value
        if ok:
            ops_metrics.observe_delivery(kind, seconds=latency)
        else:
            ops_metrics.observe_delivery_failure(kind, "permanent")

    async def notify(self, event: Any) -> None:
        try:
            decoded = Event.model_validate_json(event.value)
        except (ValidationError, ValueError):
            event.ack()  # the record agent dead-letters it; one letter is enough
            return
        try:
            await self.notifier.handle(event, decoded)
        except Exception as exc:  # a push problem must never stop the stream
            log.exception("notify failed for event %s", decoded.event_id)
            await self._dead_letter(event, f"{type(exc).__name__}: {_short(exc)}", "notify")
            event.ack()

    # ------------------------------------------------------------------ record
    async def record_batch(self, batch: list[Any]) -> None:
        decoded: list[Event] = []
        for event in batch:
            try:
                decoded.append(Event.model_validate_json(event.value))
            except (ValidationError, ValueError) as exc:
                await self._dead_letter(event, f"undecodable event: {_short(exc)}", "decode")
        if not decoded:
            return
        pool = await self.get_pool()
        attempt = 0
        while True:
            attempt += 1
            try:
                async with pool.acquire() as conn:
                    self.stats.recorded += await record_events(conn, decoded)
                ops_metrics.observe_events(decoded)
                return
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                # PostgreSQL away: wait and retry rather than drop (the offset stays uncommitted).
                log.warning("recording failed (%s), retry %d", type(exc).__name__, attempt)
                await asyncio.sleep(min(2 ** min(attempt, 5) * 0.2, 5))
            except Exception as exc:
                # A batch the database rejects: record event by event, dead-letter the bad ones.
                log.exception("batch rejected: recording one by one")
                await self._record_one_by_one(pool, batch, decoded, exc)
                return

    async def _record_one_by_one(
        self, pool: asyncpg.Pool, raw: list[Any], decoded: list[Event], exc: Exception
    ) -> None:
        by_id = {e.event_id: e for e in decoded}
        for event in raw:
            try:
                e = by_id.get(Event.model_validate_json(event.value).event_id)
            except (ValidationError, ValueError):
                continue  # already dead-lettered
            if e is None:
                continue
            try:
                async with pool.acquire() as conn:
                    self.stats.recorded += await record_events(conn, [e])
            except Exception as one_exc:
                await self._dead_letter(event, f"record failed: {_short(one_exc)}", "record")

    async def get_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(
                self.settings.pg_dsn.get_secret_value(),
                min_size=1,
                max_size=self.settings.pg_pool_max,
            )
            async with self.pool.acquire() as conn:
                await apply_migrations(conn)
        return self.pool

    async def _dead_letter(self, event: Any, reason: str, stage: Any) -> None:
        self.stats.dead_letters += 1
        try:
            await send_dead_letter(self.dead_letters, event, reason, stage)
        except Exception:
            log.exception("could not dead-letter %s", getattr(event, "offset", "?"))


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.50), "p99": at(0.99), "max": ordered[-1]}


def partition_for(community_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a community's key."""
    return (murmur2(community_id.encode()) & 0x7FFFFFFF) % partitions


def _short(exc: BaseException) -> str:
    return describe(exc)  # never the input: a command holds phones and addresses


def build_topology(settings: Settings, worker_name: str = "worker") -> Topology:
    app = create_faust_app(settings, worker_name)
    raw = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    commands = app.topic(settings.commands_topic, partitions=settings.topic_partitions, **raw)
    events = app.topic(settings.events_topic, partitions=settings.topic_partitions, **raw)
    dead = app.topic(settings.dead_letter_topic, partitions=settings.topic_partitions, **raw)
    table_args = {
        "partitions": settings.topic_partitions,
        "default": None,
        "key_type": bytes,
        "value_type": bytes,
    }
    requests_table = app.Table("requests", **table_args)
    helpers_table = app.Table("helpers", **table_args)
    topo = Topology(settings, app, commands, events, dead, requests_table, helpers_table)
    topo.trace = Trace(settings.trace_dir, worker_name)
    topo.plans = scaled_plans(settings.plan_time_scale)
    topo.state.core.plans = topo.plans

    @app.agent(commands, concurrency=1, name="dispatch")
    async def dispatch(stream: Any) -> None:
        async for event in stream.events():
            await topo.handle_command(event)

    @app.task
    async def record() -> None:
        await run_recorder(settings, topo.record_batch)

    notifier = Notifier(
        settings=settings,
        registry=EndpointRegistry(settings.push_endpoints),
        helper=lambda hid: topo.state.core.helpers.get(hid),
        request=lambda rid: topo.state.core.requests.get(rid),
        send_command=topo.send_command,
        on_result=lambda d, ok, latency: topo.observe_push(d.endpoint, ok, latency),
    )
    topo.notifier = notifier
    if not notifier.enabled:
        log.warning("no push endpoints configured (DISPATCH_PUSH_ENDPOINTS): notify agent is off")

    # Faust assigns co-partitioned topics (same partition count) to the same worker, so the
    # notify agent reads helpers and requests of its partitions from this worker's state.
    @app.agent(events, concurrency=1, name="notify")
    async def notify(stream: Any) -> None:
        async for event in stream.noack().events():
            await topo.notify(event)

    @app.timer(settings.deadline_tick_seconds, name="deadlines")
    async def deadlines() -> None:
        try:
            await topo.fire_deadlines()
        except Exception:  # a timer that raises is not rescheduled reliably: log and go on
            log.exception("deadline timer tick failed")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "worker": worker_name})

    @app.page("/stats")
    async def stats(web: Any, request: Any) -> Any:
        s = topo.stats
        return web.json(
            {
                "worker": worker_name,
                "partitions": sorted(topo.state.partitions),
                "open_requests": sum(
                    1 for r in topo.state.core.requests.values() if not r.terminal
                ),
                "helpers": len(topo.state.core.helpers),
                "commands": s.commands,
                "events": s.events,
                "dead_letters": s.dead_letters,
                "recorded": s.recorded,
                "deadline_lateness_s": percentiles(s.deadline_lateness_s),
                "deadlines_fired": len(s.deadline_lateness_s),
            }
        )

    install_worker_metrics(
        app, stats=topo.stats, requests=lambda: topo.state.core.requests.values()
    )
    return topo
