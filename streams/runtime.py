"""The worker runtime: its topics and tables, the state of the partitions it owns, counters.

The agents (dispatch_agent, notify, record_agent, deadline_timer) and the pages (web) work on
one WorkerRuntime; streams/worker.py wires them into the Faust app.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust

from dispatcher.clock import Clock
from dispatcher.core.community import CommunityPolicy
from dispatcher.sealing import keyring
from dispatcher.settings import Settings
from schemas.commands import Command
from schemas.events import Event
from schemas.party import PartyFirst
from schemas.plans import EscalationPlan
from schemas.vocab import Urgency
from streams.changelog_writes import set_item, table_items, table_value
from streams.decoded_events import DecodedEvents
from streams.faust_recovery import SeekFirstRecovery
from streams.state_store import WorkerState
from streams.trace import Trace

log = logging.getLogger(__name__)

STATE_WAIT_TICKS = 600  # × 50 ms: how long a message waits for its partition's state


@dataclass
class Stats:
    """Counters the worker's web page and metrics read."""

    commands: int = 0
    events: int = 0
    # Commands sent again through Kafka to be decided from the copy: requests' submits,
    # commands that make offers or start a wait, commands about a request not open yet or
    # behind such a copy (streams/late_commands.py).
    reissued: int = 0
    # Copies decided as Kafka acknowledged them, directly behind their original.
    decided_at_ack: int = 0
    dead_letters: int = 0
    recorded: int = 0
    table_writes: int = 0  # records written to the tables (each a changelog message)
    # The dispatch agent's takes: how many commands were waiting → how many times.
    command_groups: dict[int, int] = field(default_factory=dict)
    deadline_lateness_s: list[float] = field(default_factory=list)
    # Push outcomes per endpoint name (for staff's stream-health view; endpoint names can
    # name a community, so they are never Prometheus labels).
    push: dict[str, dict[str, int]] = field(default_factory=dict)
    # The push lanes' queues, sends in flight and caps (set by the notify agent).
    lanes: Callable[[], list[dict[str, Any]]] = list
    # Events the notify agent pushed early, handed over by the dispatch agent (None: off).
    notify_early: Callable[[], int | None] = lambda: None
    # Events the notify agent pushed from their record: read before their hand-over (which
    # can come first on a busy worker: either way once), or with early pushes off.
    notify_from_record: Callable[[], int | None] = lambda: None
    # Stalls that put the pushes in doubt, and whether they wait now (streams/stall_gate.py).
    push_stalls: Callable[[], dict[str, object] | None] = lambda: None

    def note_push(self, endpoint: str, ok: bool) -> None:
        counts = self.push.setdefault(endpoint, {"delivered": 0, "failed": 0})
        counts["delivered" if ok else "failed"] += 1

    def note_lateness(self, seconds: float) -> None:
        self.deadline_lateness_s.append(seconds)
        if len(self.deadline_lateness_s) > 100_000:
            del self.deadline_lateness_s[:50_000]


@dataclass
class WorkerRuntime:
    settings: Settings
    app: faust.App
    clock: Clock
    trace: Trace
    commands: Any  # Faust topics and tables, raw bytes
    events: Any
    dead_letters: Any
    requests_table: Any
    helpers_table: Any
    plans: dict[Urgency, EscalationPlan] = field(default_factory=dict)
    party_first: dict[str, PartyFirst] = field(default_factory=dict)
    # The communities' plan sets and quiet hours, kept in step with the config topic
    # (dispatcher/config/policies.py); the core state holds this very dict.
    communities: dict[str, CommunityPolicy] = field(default_factory=dict)
    state: WorkerState = field(default_factory=WorkerState)
    stats: Stats = field(default_factory=Stats)
    # partition -> wall time (epoch s) since when this worker owns it without interruption
    owned_since: dict[int, float] = field(default_factory=dict)
    # commands partition -> the highest offset the dispatch agent has read there: whether a
    # command Kafka acknowledged was decided yet, or still waits behind a backlog
    # (streams/deadline_timer.py gives up only on what was decided).
    commands_read: dict[int, int] = field(default_factory=dict)
    # The events records' events: handed over by the dispatch agent that sends them, taken
    # by the notify and record agents that read them (streams/decoded_events.py).
    decoded: DecodedEvents = field(default_factory=DecodedEvents)
    # `table[key] = value` for the dispatch agent's writes; the worker's writes its changelog
    # records straight to aiokafka (streams/changelog_writes.py).
    write_table: Callable[[Any, bytes, bytes], Awaitable[None]] = set_item
    # What the tables hold, the writes awaiting Kafka's acknowledgement included (the store
    # takes a value only once its changelog record is acknowledged).
    table_items: Callable[[Any], Iterable[tuple[bytes, bytes]]] = table_items
    table_value: Callable[[Any, bytes], bytes | None] = table_value
    # The dispatch agent hands each decision's events here once Kafka acknowledged them, in
    # the order decided, each with its record's partition: the notify agent's early pushes
    # (streams/notify.py), when on.
    emitted: Callable[[Sequence[tuple[int, Event]]], None] = lambda events: None

    # ------------------------------------------------------------------ ownership
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
        self._rebuild(partitions, generation)
        now = self.clock.now().timestamp()
        self.owned_since = {p: self.owned_since.get(p, now) for p in partitions}
        self.trace.write("own", g=generation, ps=sorted(partitions))
        return True

    def reload_state(self) -> None:
        """Forget the in-memory state and read it again from the tables, for the partitions
        and generation it covers: the dispatch agent's way back when decisions it applied in
        memory were not emitted (streams/dispatch_agent.py)."""
        self._rebuild(self.state.partitions, self.state.generation)

    def _rebuild(self, partitions: frozenset[int], generation: int) -> None:
        self.state = WorkerState.rebuild(
            self.table_items(self.requests_table),
            self.table_items(self.helpers_table),
            partitions,
            generation,
            plans=self.plans,
            keys=keyring(self.settings),
        )
        self.state.core.party_first = self.party_first
        self.state.core.communities = self.communities

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

    # ------------------------------------------------------------------ output
    async def send_command(self, command: Command) -> None:
        """Send a command to `commands` and wait until Kafka acknowledged it."""
        fut = await self.commands.send(
            key=command.community_id.encode(), value=command.model_dump_json().encode()
        )
        await fut
