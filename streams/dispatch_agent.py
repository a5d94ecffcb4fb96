"""The dispatch agent: `commands` → core.decide → events, then the tables.

Thin: decode, call the core, emit, store. Nothing escapes it: a command that cannot be
decoded or processed is dead-lettered with its reason and position, and consumption goes on.
Only what can never succeed is dead-lettered (a command the core refuses, an event record too
large for the topic, an event that cannot be encoded): a send Kafka may yet take (the broker
away, a leader moving, the producer stopping) is tried again, then the worker exits (75) with
the command unacknowledged, so it is read again, as for a table write (`_store_all`).

The commands already waiting when the agent is free are handled as one group
(streams/command_groups.py): each is decided on the state its predecessors left (decided, then
applied in memory), the group's events go out together and are awaited once, then each
command's table records are written and its record acknowledged. A lone command takes the
one-command path, as before the groups.

No command is applied while the worker's group membership is unconfirmed for longer than the
session timeout (streams/membership_lease.py): a worker resumed after a stop that got it
expelled lets go of the commands it had fetched, unapplied, once the rebalance begins.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from dispatcher.core import Decision, decide
from dispatcher.core import apply as apply_decision
from dispatcher.ops import metrics as ops_metrics
from dispatcher.sealing import keyring, seal_command
from schemas.commands import Command, FireDeadline
from schemas.event_batch import encode_batch_records, encode_single_records
from schemas.events import Event, one_by_one
from schemas.records import HelperState, RequestState
from streams.command_groups import (
    reading_any_partition,
    set_current_event,
    take_ready,
    writing_for,
)
from streams.dead_letter import DeadLetterSink, short
from streams.faust_consumer import EXIT_OFFSET_HOLE
from streams.faust_producer import send_now
from streams.late_commands import follows_its_original, marks_the_request, reissue_of
from streams.membership_lease import lease_of
from streams.record_limit import check_events_record_limit
from streams.runtime import WorkerRuntime
from streams.send_failures import exit_to_replay, send_may_pass
from streams.state_store import (
    COPY_SUFFIX,
    PROFILE_SUFFIX,
    CopyMark,
    decode_record,
    encode_copy_mark,
    encode_helper_status,
    encode_profile,
    encode_record,
)

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 60  # × 0.5 s
# Between the sends of a command's events that Kafka may yet take; then exit (75,
# streams/send_failures.py).
# Each failed send has already waited out aiokafka's own retries (up to Faust's
# producer_request_timeout, 20 min, when the broker is away).
SEND_RETRY_DELAYS_S = (0.5, 1.0, 2.0)
PRUNE_EVERY_S = 60.0
LATE_LOG_S = 10.0  # a command read this long after it was issued is logged as it is sent again
GROUP_LOG_EVERY_S = 10.0
LEASE_POLL_S = 0.05


# (the command's event, or None: the current one; the request; where its copy went)
_MarkWrite = tuple[Any, str, CopyMark]


class _NotEmitted(Exception):
    """A group's events could not all be emitted."""


class _LetGo(Exception):
    """The membership is unconfirmed and the rebalance has begun: the group's commands are
    not applied, not acknowledged; whoever owns their partitions next reads them again."""


@dataclass
class _Taken:
    """One command of a group, from its record to its stored state."""

    event: Any
    command: Command | None  # None: undecodable, dead-lettered
    decision: Decision | None = None
    now: datetime | None = None
    failure: str | None = None  # decide() or apply() raised: dead-letter reason
    reissue: Command | None = None  # sent again instead of decided (`late_commands`)
    marks: str | None = None  # the request its copy leaves pending (`marks_the_request`)
    unapplied: bool = False  # apply() raised: left out when the group is decided again


def _forget(sent: list[asyncio.Future[Any] | Exception]) -> None:
    """Copies sent, not awaited (their group taken one at a time, or let go): their errors
    retrieved, not logged as never retrieved."""
    for ack in sent:
        if isinstance(ack, asyncio.Future):
            ack.add_done_callback(lambda f: f.cancelled() or f.exception())


@dataclass
class DispatchAgent:
    rt: WorkerRuntime
    sink: DeadLetterSink
    # tp -> (consumer generation, last offset processed in it)
    last_offsets: dict[Any, tuple[int, int]] = field(default_factory=dict)
    last_prune: float = 0.0
    last_group_log: float = 0.0
    # Set once the worker's configuration view is loaded (the communities' plans, quiet hours).
    config_ready: asyncio.Event | None = None
    # For the trace: when the commands being applied last found the membership confirmed.
    confirmed_at: float | None = None
    # partition -> (offset, command id, state generation) of the copy decided at its
    # acknowledgement: read back, it is not decided again (`_read_back`).
    decided_early: dict[int, tuple[int, str, int]] = field(default_factory=dict)

    def install(self) -> None:
        @self.rt.app.agent(self.rt.commands, concurrency=1, name="dispatch")
        async def dispatch(stream: Any) -> None:
            async for group in take_ready(stream, self.rt.settings.command_group_max):
                if not await self.handle_group(group):
                    continue  # let go: never acknowledged, so never committed
                # Acknowledged only now, each after its table records were written: a crash
                # before replays the whole group from the committed offset.
                for event in group:
                    await stream.ack(event)

        @self.rt.app.task
        async def check_record_limit() -> None:
            await check_events_record_limit(self.rt.settings)

    async def handle_group(self, events: list[Any]) -> bool:
        """Whether the group's records are to be acknowledged: False when they were let go
        (the membership lost, see `_membership`)."""
        try:
            await self._handle_group(events)
        except _LetGo:
            self._let_go(events)
            return False
        return True

    async def _handle_group(self, events: list[Any]) -> None:
        self._note_group(len(events))
        if len(events) == 1:
            await self.handle_command(events[0])
            return
        taken = []
        for event in events:
            self._check_offset(event)
            command = await self._decode(event)
            if command is not None and self._read_back(event, command):
                self._trace(event, command)
                continue
            taken.append(_Taken(event, command))
        owned = await self._owned({t.event.message.partition for t in taken if t.command})
        todo = [t for t in taken if t.command and t.event.message.partition in owned]
        self._decide_all(todo)
        state = self.rt.state
        handed: list[tuple[int, Event]] = []
        again = [t for t in todo if t.reissue is not None]
        copies = [t.reissue for t in again if t.reissue is not None]
        sent: list[asyncio.Future[Any] | Exception] = []  # the copies', sent with the events
        try:
            await self._emit(
                [(t.event.message.partition, t.decision) for t in todo if t.decision is not None],
                handed,
                copies,
                sent,
            )
        except _NotEmitted:
            _forget(sent)
            # The state in memory is ahead of what Kafka has: read it again from the tables
            # (which hold none of this group) and take the commands one at a time, each
            # failure then handled alone: a record too large dead-lettered, a send Kafka may
            # yet take tried again, then the worker stopped with the group unacknowledged.
            log.warning("a group of %d commands was not emitted: one at a time", len(todo))
            self.rt.reload_state()
            for t in taken:
                if t.command is None:
                    self._trace(t.event, None)  # dead-lettered above
                elif t.event.message.partition in owned:
                    set_current_event(t.event)
                    if t.unapplied:  # never emitted: as the group would have
                        await self.sink.send(t.event, t.failure or "", "process")
                        self._trace(t.event, t.command)
                    else:
                        await self._one(t.event, t.command)
            return
        # Once more before the tables: a worker stopped while its events were out writes
        # nothing once resumed unconfirmed (the commands' next owner yields the same events
        # again). The group's decisions are applied in memory: read again from the tables.
        try:
            await self._confirm_membership()
        except _LetGo:
            _forget(sent)
            self.rt.reload_state()
            raise
        if handed:  # acknowledged, and the group's decisions applied: pushed from here
            self.rt.emitted(handed)
        marks: list[_MarkWrite] = []
        if again:  # acknowledged before the group's records are
            acked: list[Any] = []
            failed = await self._copies_acked(copies, sent, acked)
            passing = [exc for exc in failed if exc is not None and send_may_pass(exc)]
            if passing:  # the group is emitted: read again, decided alike
                exit_to_replay(
                    f"{len(passing)} of {len(again)} commands not sent again ({short(passing[0])})"
                )
            for t, exc, ack in zip(again, failed, acked, strict=True):
                if exc is not None:  # refused every time (too large): its original, after
                    t.failure = f"not sent again to be decided from its copy: {short(exc)}"
                else:
                    marks += self._mark(t.event, t.marks, ack)
        await self._store_all(
            [
                (t.event, t.event.message.partition, t.decision)
                for t in todo
                if t.decision is not None
            ],
            marks,
        )
        for t in todo:
            if t.decision is not None:
                self.rt.state.note_decision(t.decision)
        if self.rt.state is not state:
            # Cannot happen while our records are unacknowledged (a rebalance waits for
            # them); should it, the decisions above are in the tables but not in memory.
            exit_to_replay("the state was rebuilt during a group")
        for t in todo:
            if t.failure is not None:
                set_current_event(t.event)
                await self.sink.send(t.event, t.failure, "process")
        last = todo[-1] if todo else None
        if last is not None and last.now is not None:
            self._maybe_prune(last.now)
        for t in taken:
            if t.command is None or t.event.message.partition in owned:
                self._trace(t.event, t.command)

    def _note_group(self, size: int) -> None:
        groups = self.rt.stats.command_groups
        groups[size] = groups.get(size, 0) + 1
        mono = self.rt.clock.monotonic()
        if mono - self.last_group_log >= GROUP_LOG_EVERY_S:
            self.last_group_log = mono
            log.info("command groups (size: times): %s", dict(sorted(groups.items())))

    async def handle_command(self, event: Any) -> None:
        self._check_offset(event)
        set_current_event(event)
        command = await self._decode(event)
        if command is None:
            self._trace(event, None)
            return
        if self._read_back(event, command):
            self._trace(event, command)
            return
        await self._one(event, command)

    async def _one(self, event: Any, command: Command) -> None:
        """One command, decided, emitted and stored on its own. A failure on the command
        itself is dead-lettered; one on Kafka (`send_may_pass`) never is: the command is
        taken again (its events have the same ids, which their readers dedupe), and after
        the last retry the worker exits, the command unacknowledged, to read it again."""
        for attempt, delay in enumerate((*SEND_RETRY_DELAYS_S, None), start=1):
            try:
                done = await self._dispatch(command, event.message.partition, event.message.offset)
            except _LetGo:
                raise
            except Exception as exc:  # never let one command stop the partition
                if not send_may_pass(exc):
                    log.exception("command %s failed", command.command_id)
                    await self.sink.send(event, short(exc), "process")
                    self._trace(event, command)
                    return
                # The state is back to the tables (`_dispatch`): decided again from there.
                if delay is None:
                    exit_to_replay(
                        f"the events of command {command.command_id} were not sent after "
                        f"{attempt} attempts ({short(exc)})"
                    )
                log.warning(
                    "the events of command %s were not sent (%s): attempt %d, again in %.1f s",
                    command.command_id,
                    short(exc),
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            if done:
                self._trace(event, command)
            return

    async def _decode(self, event: Any) -> Command | None:
        """The command of `event`, or None once it is dead-lettered as undecodable."""
        try:
            # A command from before issue 12.7 may hold a contact in the clear: sealed here,
            # so the tables, their changelogs and the events never do.
            return seal_command(keyring(self.rt.settings), Command.model_validate_json(event.value))
        except (ValidationError, ValueError) as exc:
            await self.sink.send(event, f"undecodable command: {short(exc)}", "decode")
            return None

    def _trace(self, event: Any, command: Command | None) -> None:
        """After the command's state is stored (or it is dead-lettered)."""
        trace = self.rt.trace
        if not trace.enabled:
            return
        msg = event.message
        if command is None:
            trace.write("cmd", p=msg.partition, o=msg.offset, c=None, t="dead_letter")
            return
        trace.write(
            "cmd",
            p=msg.partition,
            o=msg.offset,
            c=command.command_id,
            t=command.body.type,
            i=command.issued_at.timestamp(),
            ow=self.rt.owned_since.get(msg.partition),
            ck=self.confirmed_at,
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
        read = self.rt.commands_read
        read[msg.partition] = max(read.get(msg.partition, -1), msg.offset)

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
    async def _dispatch(self, command: Command, partition: int, offset: int = -1) -> bool:
        """Decide, emit, store. False when the partition moved away (its new owner will).
        `offset`: the command's record's (a copy queued beyond it about its request: sent
        again too, `_late`)."""
        rt = self.rt
        await self._config_loaded()
        if not await rt.owns(partition):
            return False
        if not self._membership_held():
            await self._membership()
            if not await rt.owns(partition):
                return False
        late = self._late(command, (partition, offset))
        if late is not None:  # not decided: its copy is, when read (acknowledged first)
            acked: list[Any] = []
            [failed] = await self._copies_acked([late], await self._send_copies([late]), acked)
            if failed is not None:  # `_one`: tried again, or dead-lettered if it never passes
                raise failed
            request_id = marks_the_request(command, self._known)
            if request_id is not None:
                # As before a decision's tables: a worker that lost the partition unknowingly
                # would overwrite its new owner's later mark with this older one. Let go
                # (`_LetGo`), nothing is kept: the original, unacknowledged, is read again.
                await self._confirm_membership()
            marks = self._mark(None, request_id, acked[0])
            if marks:  # kept with the tables before the original is acknowledged
                await self._store_all([], marks)
            if follows_its_original(acked[0], partition, offset):
                await self._decide_at_ack(late, partition, offset + 1)
            return True
        now = self._now(command)
        decision = decide(rt.state.core, command, now)
        rt.stats.commands += 1
        # Applied in memory before its events go out, as a group's are: the notify agent
        # plans a record's pushes from this state, and may read the record before Kafka's
        # acknowledgement is back here (a whistle in a request's first decision went to every
        # whistle contact of the community, not only those covering the request's place).
        applied = self._apply(command, decision)
        state = rt.state
        handed: list[tuple[int, Event]] = []
        if decision.events:
            # Events first, acknowledged by Kafka, then the tables: a crash in between
            # replays the command, which yields the same event ids (the consumers dedupe).
            # All of them in one record (schemas/event_batch.py): readers pay per record.
            try:
                futures = [
                    await rt.events.send(key=key, value=value)
                    for key, value in self._records(decision, partition, handed)
                ]
                await asyncio.gather(*futures)
                rt.stats.events += len(decision.events)
                await self._confirm_membership()  # as for a group: before the tables
            except Exception:  # not a cancellation: the worker is stopping, its state goes
                if applied:  # in memory only: back to the tables, which hold none of it
                    rt.reload_state()
                raise
        await self._store_all([(None, partition, decision)])  # under the current event
        if applied and rt.state is state:
            rt.state.note_decision(decision)
        else:
            # Emitted and stored, so processed: the state takes it from the tables. (Rebuilt
            # meanwhile, by a rebalance that did not wait for this command: without it.)
            rt.reload_state()
        if handed:  # pushed from a state the decision is in, as when its record is read
            rt.emitted(handed)
        self._maybe_prune(now)
        return True

    async def _decide_at_ack(self, copy: Command, partition: int, offset: int) -> None:
        """Decide `copy`, acknowledged at `offset` directly behind its original, now: the
        record reading it back would find the same state (streams/late_commands.py). Its
        events, tables and pushes go as when read; read back, it is a second copy. A failure
        leaves it to be decided when read (it is in the log); a lost membership lets the
        original go too, and whoever reads the copy next decides it alike."""
        try:
            done = await self._dispatch(copy, partition, offset)
        except _LetGo:
            raise
        except Exception as exc:  # the state is back to the tables (`_dispatch`)
            log.warning(
                "copy of command %s: its decision at its acknowledgement failed (%s); it is "
                "decided again when read",
                copy.command_id,
                short(exc),
            )
            return
        if done:
            self.rt.stats.decided_at_ack += 1
            self.decided_early[partition] = (offset, copy.command_id, self.rt.state.generation)

    def _read_back(self, event: Any, command: Command) -> bool:
        """Whether `event` is the copy decided at its acknowledgement (`_decide_at_ack`), read
        back: its decision is in the state and the tables already. Not decided again: a copy
        the core refused keeps no command id, so deciding it again would send the same
        refusal out twice. Anything else (another generation's state, a record not seen
        decided here) is decided as read, a second copy changing nothing."""
        msg = event.message
        early = self.decided_early.get(msg.partition)
        if early != (msg.offset, command.command_id, self.rt.state.generation):
            return False
        del self.decided_early[msg.partition]
        return True

    def _apply(self, command: Command, decision: Decision) -> bool:
        """Apply `decision` to the state in memory. When that fails, the state (maybe
        half-changed) is read again from the tables, and the decision still goes out and is
        stored: the state takes it from the tables after that."""
        try:
            apply_decision(self.rt.state.core, decision)
        except Exception:
            log.exception("applying command %s failed: state read again", command.command_id)
            self.rt.reload_state()
            return False
        return True

    async def _config_loaded(self) -> None:
        if self.config_ready is not None and not self.config_ready.is_set():
            await self.config_ready.wait()

    def _late(
        self,
        command: Command,
        at: CopyMark | None = None,
        copied: frozenset[str] | set[str] = frozenset(),
    ) -> Command | None:
        """The copy of `command` to send instead of deciding it (a request's submit, a
        command that makes offers or starts a wait, one about a request not open yet, or one
        about a request a copy is queued for beyond `at`, its record's (partition, offset):
        streams/late_commands.py), else None. `copied`: requests a copy was sent about
        earlier in the group (their positions not known yet)."""
        marks = self.rt.state.copies

        def pending(request_id: str) -> bool:
            if request_id in copied:
                return True
            mark = marks.get(request_id)
            return mark is not None and at is not None and mark[0] == at[0] and at[1] < mark[1]

        wall = self.rt.clock.now()
        return reissue_of(command, wall=wall, known=self._known, pending=pending)

    def _known(self, request_id: str) -> bool:
        return request_id in self.rt.state.core.requests

    def _mark(self, event: Any, request_id: str | None, ack: Any) -> list[_MarkWrite]:
        """Keep, in memory now and with the tables (`_store_all`), where the copy about
        `request_id` went (Kafka's acknowledgement, `ack`): the records about it read
        before that position are sent again behind it."""
        partition, offset = getattr(ack, "partition", None), getattr(ack, "offset", None)
        if request_id is None:
            return []
        if not isinstance(partition, int) or not isinstance(offset, int) or offset < 0:
            log.error("copy about request %s acknowledged without its offset", request_id)
            return []
        mark = (partition, offset)
        copies = self.rt.state.copies
        before = copies.get(request_id)
        if before is not None and before[0] == partition and before[1] >= offset:
            return []  # a later copy's position kept already
        copies[request_id] = mark
        return [(event, request_id, mark)]

    async def _send_again(self, copies: list[Command]) -> list[BaseException | None]:
        """Send the copies, in order, behind everything queued (same key, same partition),
        and wait for Kafka to acknowledge them: only then are their originals acknowledged.
        Each copy's failure, or None once acknowledged: the caller tells one Kafka may yet
        take (`send_may_pass`: sent again, then exit 75, as for events) from one refused
        every time (a record too large: its original dead-lettered, as an event record too
        large dead-letters its command; before, a group exited on it at every restart)."""
        return await self._copies_acked(copies, await self._send_copies(copies))

    async def _send_copies(self, copies: list[Command]) -> list[asyncio.Future[Any] | Exception]:
        """Each copy's acknowledgement to come, or the error its send raised."""
        rt = self.rt
        wall = rt.clock.now()
        sent: list[asyncio.Future[Any] | Exception] = []
        for copy in copies:
            late_s = (wall - copy.issued_at).total_seconds()
            if late_s > LATE_LOG_S:
                log.info(
                    "command %s (%s) read %.1f s after it was issued: decided from now",
                    copy.command_id,
                    copy.body.type,
                    late_s,
                )
            try:  # Faust raises ProducerSendError when aiokafka refuses the record at once
                sent.append(
                    await rt.commands.send(
                        key=copy.community_id.encode(), value=copy.model_dump_json().encode()
                    )
                )
            except Exception as exc:
                sent.append(exc)
        return sent

    async def _copies_acked(
        self,
        copies: list[Command],
        sent: list[asyncio.Future[Any] | Exception],
        acked: list[Any] | None = None,
    ) -> list[BaseException | None]:
        """Each copy's failure, or None once Kafka acknowledged it (`_send_again`); `acked`
        gets each acknowledgement (its record's partition and offset), None if it failed."""
        rt = self.rt
        failed: list[BaseException | None] = []
        for copy, ack in zip(copies, sent, strict=True):  # all sent: awaited in turn
            try:
                if isinstance(ack, Exception):
                    raise ack
                metadata = await ack
            except Exception as exc:  # not a cancellation: the worker stopping
                log.error("command %s not sent again: %s", copy.command_id, short(exc))
                failed.append(exc)
                metadata = None
            else:
                failed.append(None)
            if acked is not None:
                acked.append(metadata)
        rt.stats.reissued += failed.count(None)
        return failed

    def _now(self, command: Command) -> datetime:
        """Decide with the command's own time: a command replayed after a crash then yields
        exactly the same events and ids (the wall clock would not). A deadline's command is
        issued when the timer sends it, not before its due time (`deadline_command`): one a
        worker sent late (down, or behind) is decided then, and the ladder goes on from
        there, one rung at a time. A request's submit, a command that makes offers or starts
        a wait, and what follows such a command about its request, are decided from the copy
        the agent sent when it read them, at the copy's time (`reissued_at`,
        streams/late_commands.py), however late the sender's stamp. Clamped: a clock ahead
        of ours is not trusted.

        A deadline's lateness is measured from its due time (the request's deadline the
        command fires, while it is the current one), the timer's own delay included."""
        wall = self.rt.clock.now()
        body = command.body
        if isinstance(body, FireDeadline):
            due = command.issued_at
            request = self.rt.state.core.requests.get(body.request_id)
            if request is not None and request.deadline_step == body.step:
                due = min(due, request.next_deadline or due)
            lateness = (wall - due).total_seconds()
            self.rt.stats.note_lateness(lateness)
            ops_metrics.observe_deadline_lateness(lateness)
        return min(command.decided_from(), wall)

    async def _owned(self, partitions: set[int]) -> set[int]:
        """The partitions whose state this worker has, awaited before any decision of the
        group is applied: waiting out a recovery may rebuild the state."""
        await self._config_loaded()
        owned = {p for p in partitions if await self.rt.owns(p)}
        if owned and not self._membership_held():
            await self._membership()
            owned = {p for p in owned if await self.rt.owns(p)}
        # No await from here until the group's events are sent: this answer holds for it.
        return {p for p in owned if self.rt.state_ready() and p in self.rt.state.partitions}

    # ------------------------------------------------------------------ membership
    def _membership_held(self) -> bool:
        """Whether this worker is surely still a member of its group, now (the hot path: one
        comparison per command group). No lease (a test's app without a consumer): held."""
        lease = lease_of(self.rt.app)
        if lease is None or lease.held(time.monotonic()):
            if self.rt.trace.enabled:
                self.confirmed_at = self.rt.clock.now().timestamp()
            return True
        return False

    async def _confirm_membership(self) -> None:
        if not self._membership_held():
            await self._membership()

    async def _membership(self) -> None:
        """Wait until a heartbeat confirms the membership again; raise `_LetGo` once Faust's
        revoke has begun (it waits for the commands held here, and takes every partition)."""
        lease = lease_of(self.rt.app)
        age = None if lease is None else lease.age()
        log.warning(
            "group membership unconfirmed for %s s (session %.0f s): no command applied until "
            "a heartbeat succeeds or the partitions are revoked",
            "?" if age is None else f"{age:.1f}",
            self.rt.settings.broker_session_timeout_seconds,
        )
        consumer = self.rt.app.consumer
        while True:
            if self._membership_held():
                log.info("group membership confirmed again: applying commands")
                return
            revoking = getattr(consumer, "revoking", None)
            if revoking or (revoking is None and self.rt.app.rebalancing):
                raise _LetGo
            await asyncio.sleep(LEASE_POLL_S)

    def _let_go(self, events: list[Any]) -> None:
        """Neither applied nor acknowledged: a commit cannot pass them
        (streams/faust_consumer.py), and Faust's revoke no longer waits for them."""
        unacked = self.rt.app.consumer._unacked_messages  # as streams/faust_stop.py
        for event in events:
            unacked.discard(event.message)
        where = sorted({(e.message.partition, e.message.offset) for e in events})
        log.warning(
            "group membership lost and the partitions revoked: %d commands let go unapplied "
            "and unacknowledged (partition, offset: %s); their partitions' next owner reads "
            "them again",
            len(events),
            where[:8],
        )

    def _decide_all(self, todo: list[_Taken]) -> None:
        """Decide each command on the state the previous ones left (applied in memory at
        once, before any event goes out, as on the one-command path). A decision that cannot
        be applied may leave the state half-changed: it is read again from the tables (which
        hold none of the group), that command left out (dead-lettered, never emitted) and
        the others decided again."""
        while not self._decide_in_turn(todo):
            self.rt.reload_state()
        self.rt.stats.commands += sum(t.decision is not None for t in todo)

    def _decide_in_turn(self, todo: list[_Taken]) -> bool:
        """False as soon as a decision could not be applied (that command is marked)."""
        core = self.rt.state.core
        copied: set[str] = set()  # requests a copy was sent about in the group
        for t in todo:
            assert t.command is not None
            if t.unapplied:
                continue
            t.decision, t.failure = None, None
            # On the state the group's earlier commands left (a command about a request
            # opened by an earlier copy in the group is decided).
            msg = t.event.message
            t.reissue = self._late(t.command, (msg.partition, msg.offset), copied)
            if t.reissue is not None:
                t.marks = marks_the_request(t.command, self._known)
                if t.marks is not None:
                    copied.add(t.marks)
                continue
            t.now = self._now(t.command)
            try:
                decision = decide(core, t.command, t.now)
            except Exception as exc:  # dead-lettered alone, after the group is stored
                log.exception("command %s failed", t.command.command_id)
                t.failure = short(exc)
                continue
            try:
                apply_decision(core, decision)
            except Exception as exc:
                log.exception("applying command %s failed", t.command.command_id)
                t.failure, t.unapplied = short(exc), True
                return False
            t.decision = decision
        return True

    async def _emit(
        self,
        decisions: list[tuple[int, Decision]],
        handed: list[tuple[int, Event]],
        copies: list[Command],
        sent: list[asyncio.Future[Any] | Exception],
    ) -> None:
        """Send every decision's events (one record per decision, as the one-command path
        does) and wait until Kafka acknowledged them all. The group's `copies` go out once
        the events are sent, before they are awaited: both round trips at once; `sent` gets
        their acknowledgements to come (`_send_copies`), awaited by the caller. A copy sent
        when the group is then taken one at a time (or let go) is sent again: a second copy
        changes nothing (the first decided opens the request). The prompt send of each `events`
        record (streams/faust_producer.py) would close its batch, and a partition's next
        batch goes out only after the previous one is answered: the records are added first,
        then sent together, so the group costs one produce round trip (as far as a
        partition's records fit the producer's batch size, 16 KB).

        Each batch has its own acknowledgement: when one fails, records of later commands
        may be acknowledged already, and the group is then decided again one command at a
        time. That yields the same events, ids and content, as long as every command is
        emitted again: a send that fails on Kafka is tried again, then the worker stops
        before any of the group is acknowledged (`_one`). Only a record too large for the
        topic dead-letters its command (a record is split below the topic's
        max.message.bytes, which streams/record_limit.py checks at start-up), and the later
        commands' events already out were then decided with it applied: the tables then
        hold other content under their ids. `handed` gets the events as
        their records carry them, in order, each with its command's partition (its
        record's: the same number)."""
        rt = self.rt
        producer: Any = rt.app.producer
        prompt = producer.prompt_topics
        futures = []
        try:
            producer.prompt_topics = frozenset()  # the agent is the only sender to `events`
            try:
                for partition, decision in decisions:
                    for key, value in self._records(decision, partition, handed):
                        futures.append(await rt.events.send(key=key, value=value))
            finally:
                producer.prompt_topics = prompt
            if futures:
                send_now(producer._ensure_producer(), rt.settings.events_topic)
            if copies:  # a prompt topic (the commands'): out at once
                sent.extend(await self._send_copies(copies))
            await asyncio.gather(*futures)
        except Exception as exc:
            log.exception("the events of %d decisions were not all emitted", len(decisions))
            raise _NotEmitted from exc
        rt.stats.events += sum(len(d.events) for _, d in decisions)

    def _records(
        self, decision: Decision, partition: int, handed: list[tuple[int, Event]]
    ) -> list[tuple[bytes, bytes]]:
        """The (key, value) records of a decision's events, each record's events handed to
        this worker's readers of the topic, who then need not decode what was just encoded,
        and added to `handed` (for the early pushes, once acknowledged)."""
        rt = self.rt
        encode = encode_batch_records if rt.settings.event_batches else encode_single_records
        # For a rolling upgrade: the waves as the single events an older reader takes.
        events = decision.events if rt.settings.wave_events else one_by_one(decision.events)
        records = encode(events)
        for _, value, decoded in records:
            rt.decoded.hand_over(value, decoded)
            handed.extend((partition, e) for e in decoded.events)
        return [(key, value) for key, value, _ in records]

    async def _store_all(
        self,
        decided: list[tuple[Any, int, Decision]],
        marks: Sequence[_MarkWrite] = (),
    ) -> None:
        """Write the records of decisions taken in order, each under its command's event (its
        partition's changelog). Records are written for what they are after the group: a
        helper offered in three of a group's requests is written once, not three times
        (every write is a changelog message, and the worker pays per message), under the
        last of those events. Records are told apart by partition, as before each was
        written to the changelog of the command that changed it: one changed by commands
        of two partitions is still written once to each.

        The decisions' events are already out, so giving up here would leave the state
        behind them: retry (a just-created changelog topic can briefly be missing from
        metadata), and if that never works, exit so the commands are replayed.

        `marks`: where the copies sent about requests went (`_mark`), written after the
        records, each request's last: a mark kept says the records before it are (a replay
        that finds a request pending, yet not what an earlier command did to it, would
        decide that command again from a copy, at another time)."""
        requests, write = self.rt.requests_table, self.rt.write_table
        last: dict[tuple[str, int, str], tuple[Any, RequestState | HelperState]] = {}
        for event, partition, decision in decided:
            for rid, request in decision.requests.items():
                last[("r", partition, rid)] = (event, request)
            for hid, helper in decision.helpers.items():
                last[("h", partition, hid)] = (event, helper)
        last_marks = {rid: (event, mark) for event, rid, mark in marks}
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                writes = 0
                for (_, partition, key), (event, record) in last.items():
                    if event is not None:
                        set_current_event(event)
                    if isinstance(record, RequestState):
                        await write(requests, key.encode(), encode_record(partition, record))
                    else:
                        writes += await self._store_helper(partition, key, record)
                for rid, (event, mark) in last_marks.items():
                    if event is not None:
                        set_current_event(event)
                    await write(requests, (rid + COPY_SUFFIX).encode(), encode_copy_mark(mark))
                self.rt.stats.table_writes += len(last) + writes + len(last_marks)
                return
            except Exception as exc:
                log.warning("table write failed (%s), retry %d", type(exc).__name__, attempt)
                await asyncio.sleep(0.5)
        exit_to_replay("table writes keep failing")

    async def _store_helper(self, partition: int, hid: str, helper: HelperState) -> int:
        """The helper's record, after its profile's when that changed since it was stored
        (first: a record is never read without its profile): the extra writes made."""
        stored = self.rt.state.stored_profiles
        table = self.rt.helpers_table
        extra = 0
        if stored.get((partition, hid)) is not helper.profile:
            profile_key = (hid + PROFILE_SUFFIX).encode()
            await self.rt.write_table(table, profile_key, encode_profile(partition, helper.profile))
            stored[(partition, hid)] = helper.profile
            extra = 1
        await self.rt.write_table(table, hid.encode(), encode_helper_status(partition, helper))
        return extra

    def _maybe_prune(self, now: datetime) -> None:
        mono = self.rt.clock.monotonic()
        if mono - self.last_prune < PRUNE_EVERY_S:
            return
        self.last_prune = mono
        table = self.rt.requests_table
        topic = self.rt.settings.commands_topic
        for rid in self.rt.state.core.prune(now):
            # The state holds every owned partition's requests, while Faust's table reads
            # and writes go to the current event's partition: each request is found in its
            # own partition's store and its deletion marker written to its own changelog
            # partition (else it stayed, and came back with the next rebuild or recovery).
            key = rid.encode()
            with reading_any_partition():
                raw = self.rt.table_value(table, key)
            if raw is None:
                continue
            partition, _ = decode_record(raw)
            # Its copy mark with it (its copies read long ago: the request ended before).
            marked = self.rt.state.copies.pop(rid, None) is not None
            with writing_for(topic, partition):
                table.pop(key, None)
                if marked:
                    table.pop(key + COPY_SUFFIX.encode(), None)
