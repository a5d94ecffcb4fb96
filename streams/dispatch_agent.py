"""The dispatch agent: `commands` → core.decide → events, then the tables.

Thin: decode, call the core, emit, store. Nothing escapes it: a command that cannot be
decoded or processed is dead-lettered with its reason and position, and consumption goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from dispatcher.core import Decision, decide
from dispatcher.core import apply as apply_decision
from dispatcher.ops import metrics as ops_metrics
from dispatcher.sealing import keyring, seal_command
from schemas.commands import Command
from schemas.event_batch import encode_batches, encode_singles
from streams.dead_letter import DeadLetterSink, short
from streams.faust_consumer import EXIT_OFFSET_HOLE
from streams.runtime import WorkerRuntime
from streams.state_store import encode_record

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 60  # × 0.5 s
PRUNE_EVERY_S = 60.0


@dataclass
class DispatchAgent:
    rt: WorkerRuntime
    sink: DeadLetterSink
    # tp -> (consumer generation, last offset processed in it)
    last_offsets: dict[Any, tuple[int, int]] = field(default_factory=dict)
    last_prune: float = 0.0
    # Set once the worker's configuration view is loaded (the communities' plans, quiet hours).
    config_ready: asyncio.Event | None = None

    def install(self) -> None:
        @self.rt.app.agent(self.rt.commands, concurrency=1, name="dispatch")
        async def dispatch(stream: Any) -> None:
            async for event in stream.events():
                await self.handle_command(event)

    async def handle_command(self, event: Any) -> None:
        self._check_offset(event)
        msg = event.message
        trace = self.rt.trace
        try:
            # A command from before issue 12.7 may hold a contact in the clear: sealed here,
            # so the tables, their changelogs and the events never do.
            command = seal_command(
                keyring(self.rt.settings), Command.model_validate_json(event.value)
            )
        except (ValidationError, ValueError) as exc:
            await self.sink.send(event, f"undecodable command: {short(exc)}", "decode")
            trace.write("cmd", p=msg.partition, o=msg.offset, c=None, t="dead_letter")
            return
        try:
            done = await self._dispatch(command, msg.partition)
        except Exception as exc:  # never let one command stop the partition
            log.exception("command %s failed", command.command_id)
            await self.sink.send(event, f"{type(exc).__name__}: {short(exc)}", "process")
            done = True
        if done and trace.enabled:
            trace.write(
                "cmd",
                p=msg.partition,
                o=msg.offset,
                c=command.command_id,
                t=command.body.type,
                i=command.issued_at.timestamp(),
                ow=self.rt.owned_since.get(msg.partition),
            )

    # ------------------------------------------------------------------ offsets
    def _check_offset(self, event: Any) -> None:
        msg = event.message
        tp = msg.tp
        app = self.rt.app
        gen = app.consumer_generation_id
        last = self.last_offsets.get(tp)
        if last is None or last[0] != gen:
            committed = app.consumer._committed_offset.get(tp)
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
        if not self.rt.settings.faust_offset_fixes:
            log.warning("offset gap: %s", what)
            return
        log.critical("offset gap in the dispatch agent: %s; exiting to be restarted", what)
        logging.shutdown()
        os._exit(EXIT_OFFSET_HOLE)

    # ------------------------------------------------------------------ decide, emit, store
    async def _dispatch(self, command: Command, partition: int) -> bool:
        """Decide, emit, store. False when the partition moved away (its new owner will)."""
        rt = self.rt
        if self.config_ready is not None and not self.config_ready.is_set():
            await self.config_ready.wait()
        if not await rt.owns(partition):
            return False
        wall = rt.clock.now()
        # Decide with the command's own time: a command replayed after a crash then yields
        # exactly the same events and ids (the wall clock would not), and a deadline processed
        # late still climbs the ladder on schedule. Clamped: a clock ahead of ours is not trusted.
        now = min(command.issued_at, wall)
        if command.body.type == "deadline_reached":
            lateness = (wall - command.issued_at).total_seconds()
            rt.stats.note_lateness(lateness)
            ops_metrics.observe_deadline_lateness(lateness)
        decision = decide(rt.state.core, command, now)
        rt.stats.commands += 1
        if decision.events:
            # Events first, acknowledged by Kafka, then the tables: a crash in between
            # replays the command, which yields the same event ids (the consumers dedupe).
            # All of them in one record (schemas/event_batch.py): readers pay per record.
            encode = encode_batches if rt.settings.event_batches else encode_singles
            futures = [
                await rt.events.send(key=key, value=value) for key, value in encode(decision.events)
            ]
            await asyncio.gather(*futures)
            rt.stats.events += len(decision.events)
        await self._store(decision, partition)
        apply_decision(rt.state.core, decision)
        rt.state.note_decision(decision)
        self._maybe_prune(now)
        return True

    async def _store(self, decision: Decision, partition: int) -> None:
        """Write the decision's records. Its events are already out, so giving up here would
        leave the state behind them: retry (a just-created changelog topic can briefly be
        missing from metadata), and if that never works, exit so the command is replayed."""
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                for rid, request in decision.requests.items():
                    self.rt.requests_table[rid.encode()] = encode_record(partition, request)
                for hid, helper in decision.helpers.items():
                    self.rt.helpers_table[hid.encode()] = encode_record(partition, helper)
                return
            except Exception as exc:
                log.warning("table write failed (%s), retry %d", type(exc).__name__, attempt)
                await asyncio.sleep(0.5)
        log.critical("table writes keep failing: exiting so the command is replayed")
        os._exit(75)

    def _maybe_prune(self, now: datetime) -> None:
        mono = self.rt.clock.monotonic()
        if mono - self.last_prune < PRUNE_EVERY_S:
            return
        self.last_prune = mono
        for rid in self.rt.state.core.prune(now):
            self.rt.requests_table.pop(rid.encode(), None)
