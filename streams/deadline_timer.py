"""The deadline timer: due deadlines of this worker's partitions → `deadline_reached` commands.

Which deadlines are due, and when an unacknowledged one fires again, is the core's heap
(dispatcher/core/deadlines.py); this module only sends and reports back, and gives up on a
deadline whose acknowledged commands never take effect (`UNAPPLIED_SENDS`).

A deadline is sent issued at the timer's clock when that is past its due time
(`deadline_command`): a worker that was down or behind goes on up the ladder from now, one
rung at a time, instead of deciding every missed rung at its own past time (each rung's
offers then expired before they were pushed, and the ladder burst to its last rung).

It also has the core look again at the requests quiet hours hold when those hours change
(`review_holds`): a hold's end is fixed when the request is held, and only the core decides,
from commands, so a community whose quiet hours staff removed or shortened would otherwise
keep its chores held to the old end (07:00) while a new one went out at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka.partitioner import murmur2

from dispatcher.core.community import CommunityPolicy
from dispatcher.core.deadlines import RETRY_MAX_S, HeapItem
from dispatcher.core.state import DispatchState
from schemas.commands import Command, deadline_command, quiet_hours_command
from schemas.records import RequestState
from streams.dead_letter import DeadLetterSink
from streams.runtime import WorkerRuntime

log = logging.getLogger(__name__)

# A deadline command Kafka acknowledged is applied: the deadline then moves and its heap
# item is stale. One still current after this many acknowledged sends (the same command id
# each time) was refused by the core every time (decide() raised: dead-lettered), so sending
# it again forever would only add a dead letter and a traceback a minute. Sent again after 1,
# 2, 4 and 8 minutes, checked a last time 16 minutes later, then - once the dispatch agent
# has read the last of them (`WorkerRuntime.commands_read`: a backlog is waited out, not
# taken for a refusal) - lettered and logged once and not sent again: the request stays
# open, in the tables and on the dashboard, for staff.
UNAPPLIED_SENDS = 5

# How often the timer looks for communities whose quiet hours changed (`review_holds`).
REVIEW_SECONDS = 1.0


def partition_for(community_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a community's key."""
    return (murmur2(community_id.encode()) & 0x7FFFFFFF) % partitions


DeadlineKey = tuple[str, int, datetime]  # (request id, step, due at): one deadline command


@dataclass(frozen=True)
class _Sent:
    """How often one deadline's command was acknowledged, and where the last one went."""

    sends: int
    partition: int
    offset: int  # -1: not known


@dataclass(frozen=True)
class _Record:
    """A deadline command's record, as a dead letter names it (`dead_letter_for`)."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass
class DeadlineTimer:
    rt: WorkerRuntime
    sink: DeadLetterSink | None = None  # default: the runtime's dead-letter topic
    # Set once the communities' settings are loaded (the configuration follower's `ready`):
    # held requests are looked at only with them (None: loaded).
    config_ready: asyncio.Event | None = None
    # Deadlines whose command Kafka acknowledged, still current when last popped.
    _acknowledged: dict[DeadlineKey, _Sent] = field(default_factory=dict)
    _last_prune: datetime | None = None
    # Communities whose quiet hours changed, their held requests not looked at again yet.
    _quiet_changed: set[str] = field(default_factory=set)
    # The state generation whose held requests were all looked at (`review_holds`).
    _reviewed: int | None = None

    def install(self) -> None:
        @self.rt.app.timer(self.rt.settings.deadline_tick_seconds, name="deadlines")
        async def deadlines() -> None:
            try:
                await self.fire()
            except Exception:  # a timer that raises is not rescheduled reliably: log and go on
                log.exception("deadline timer tick failed")

        @self.rt.app.timer(REVIEW_SECONDS, name="quiet-hours")
        async def quiet_hours() -> None:
            try:
                await self.review_holds()
            except Exception:
                log.exception("quiet hours review failed")

    def quiet_hours_changed(
        self, before: Mapping[str, CommunityPolicy], after: Mapping[str, CommunityPolicy]
    ) -> None:
        """The worker's communities' settings went from `before` to `after` (a configuration
        change): those whose quiet hours (or zone) differ have their held requests looked
        at again (`review_holds`)."""
        for community_id in before.keys() | after.keys():
            if _quiet_hours(before.get(community_id)) != _quiet_hours(after.get(community_id)):
                self._quiet_changed.add(community_id)

    async def review_holds(self) -> int:
        """Send a `ReportQuietHoursChanged` for each request of this worker's partitions that
        its community's quiet hours hold to an end they no longer give (`holds_to_review`):
        of the communities whose hours changed, and of every community once per state
        rebuilt (partitions new to this worker, whose hours may have changed while another
        worker held them, or while this one was down). The core decides each at its time,
        from the hours then; a send that fails is tried again at the next look. How many
        were sent."""
        rt = self.rt
        if not rt.state_ready() or (self.config_ready and not self.config_ready.is_set()):
            return 0
        communities: set[str] | None = set(self._quiet_changed)
        if rt.state.generation != self._reviewed:
            self._reviewed, communities = rt.state.generation, None
        elif not communities:
            return 0
        self._quiet_changed.clear()
        now = rt.clock.now()
        # `live()`: only the requests held as models. Every held or paused one is open, so
        # never cold; `.values()` would rebuild each cold closed request from its JSON, ~45 µs
        # apiece, on the loop at every rebalance (session 43 review R2: 0.9 s per 20,000).
        live = rt.state.core.requests.live()
        commands = holds_to_review(live, rt.state.core, now, communities)
        if not commands:
            return 0
        sending: list[Any] = []
        for cmd in commands:
            try:
                sending.append(
                    await rt.commands.send(
                        key=cmd.community_id.encode(), value=cmd.model_dump_json().encode()
                    )
                )
            except Exception as exc:  # refused before it was queued: as a failed send
                sending.append(_refused(exc))
        results = await asyncio.gather(*sending, return_exceptions=True)
        sent = 0
        for cmd, result in zip(commands, results, strict=True):
            if isinstance(result, BaseException):
                self._quiet_changed.add(cmd.community_id)  # looked at again next time
            else:
                sent += 1
        log.info("quiet hours changed: %d of %d held requests looked at again", sent, len(commands))
        return sent

    async def fire(self) -> int:
        """Turn due deadlines of this worker's partitions into commands."""
        rt = self.rt
        if not rt.state_ready():
            return 0
        now = rt.clock.now()
        self._prune(now)
        due: list[HeapItem] = []
        for item in rt.state.pop_due(now):
            sent = self._acknowledged.get(_key(item))
            if sent is not None and sent.sends >= UNAPPLIED_SENDS:
                if self._still_queued(item, sent):
                    # Not refused: not decided yet (a backlog). Checked again, not re-sent.
                    rt.state.heap.retry_later(item, now, acknowledged=True)
                else:
                    await self._give_up(item, sent)
            else:
                due.append(item)
        sending: list[Any] = []
        for item in due:
            self._trace(item)
            cmd = _command(item, now)
            try:
                sending.append(
                    await rt.commands.send(
                        key=_key_bytes(item), value=cmd.model_dump_json().encode()
                    )
                )
            except Exception as exc:
                # Refused before it was queued (Faust's `ProducerSendError` for aiokafka's
                # metadata or full-buffer timeout): this item, like every other popped one,
                # must go back on the heap below, or its request never escalates.
                sending.append(_refused(exc))
        results = await asyncio.gather(*sending, return_exceptions=True)
        for item, result in zip(due, results, strict=True):
            if isinstance(result, BaseException):
                # Kafka refused it: retried with backoff, without bound (a refusal says the
                # broker is away, for every deadline alike: none is given up for it).
                log.warning("deadline command not sent (%s): retrying", type(result).__name__)
                rt.state.heap.retry_later(item, now)
            else:
                self._check_later(item, result, now)
        return len(due)

    def _check_later(self, item: HeapItem, result: Any, now: datetime) -> None:
        """An acknowledged send: checked again after 1, 2, 4… minutes (the heap's own check
        comes RETRY_MAX_S after the time it is given, so that time is moved on)."""
        key = _key(item)
        before = self._acknowledged.get(key)
        sends = 1 if before is None else before.sends + 1
        self._acknowledged[key] = _Sent(
            sends,
            _int(getattr(result, "partition", None), self._partition(item)),
            _int(getattr(result, "offset", None), -1),
        )
        later = RETRY_MAX_S * (2 ** (sends - 1) - 1)
        self.rt.state.heap.retry_later(item, now + timedelta(seconds=later), acknowledged=True)

    def _still_queued(self, item: HeapItem, sent: _Sent) -> bool:
        """The last acknowledged send is beyond what the dispatch agent has read on its
        partition: it waits behind a backlog, which says nothing about the core refusing
        it (a chaos run's worker, behind by 37,000 commands, dead-lettered a deadline it
        applied six seconds later). An unknown offset counts as read. Likewise while the
        last copy about its request lies beyond what was read: the agent read the deadline
        commands and sent them again behind that copy (streams/late_commands.py), so they
        are queued still, as copies."""
        read = self.rt.commands_read
        if sent.offset >= 0 and read.get(sent.partition, -1) < sent.offset:
            return True
        mark = self.rt.state.copies.get(item.request_id)
        return mark is not None and read.get(mark[0], -1) < mark[1]

    async def _give_up(self, item: HeapItem, sent: _Sent) -> None:
        """Dead-letter the deadline (counted in the dead letters' metric) and send it no
        more; the request itself is left as it is, open and visible."""
        del self._acknowledged[_key(item)]
        reason = (
            f"deadline step {item.step} of request {item.request_id} (due "
            f"{item.due_at.isoformat()}) still current after {sent.sends} acknowledged "
            "deadline commands, each decided and refused by the core (see their dead "
            "letters); not sent again until the worker rebuilds its state. The request "
            "stays open for staff."
        )
        log.error("%s", reason)
        rt = self.rt
        if self.sink is None:
            self.sink = DeadLetterSink(rt.dead_letters, rt.stats, rt.clock)
        value = _command(item, rt.clock.now()).model_dump_json().encode()
        record = _Record(
            rt.settings.commands_topic, sent.partition, sent.offset, _key_bytes(item), value
        )
        await self.sink.send(record, reason, "process")

    def _prune(self, now: datetime) -> None:
        """Forget deadlines that moved (applied, as nearly all are), once a minute."""
        last = self._last_prune
        recent = last is not None and (now - last).total_seconds() < RETRY_MAX_S
        if recent or not self._acknowledged:
            return
        self._last_prune = now
        requests = self.rt.state.core.requests
        for key in list(self._acknowledged):
            request = requests.get(key[0])
            if (
                request is None
                or request.deadline_step != key[1]
                or request.next_deadline != key[2]
            ):
                del self._acknowledged[key]

    def _partition(self, item: HeapItem) -> int:
        return partition_for(item.community_id, self.rt.settings.topic_partitions)

    def _trace(self, item: HeapItem) -> None:
        rt = self.rt
        if not rt.trace.enabled:
            return
        p = self._partition(item)
        rt.trace.write(
            "fire",
            p=p,
            r=item.request_id,
            s=item.step,
            due=item.due_at.timestamp(),
            owned=rt.owned_since.get(p),
            attempt=item.attempt,
            restored=item.restored,
        )


def holds_to_review(
    requests: Iterable[RequestState],
    state: DispatchState,
    now: datetime,
    communities: Collection[str] | None,
) -> list[Command]:
    """The `ReportQuietHoursChanged` commands for the requests (of `communities`; None:
    all) held for quiet hours, each carrying its community's hours as they are now
    (`state.policy`; the core decides from them). Of a community whose hours changed: every
    held one, so the last command about it carries the hours as they are (one sent for an
    earlier change and not yet decided would otherwise win, the hold it sees being the old
    one). Else (a state rebuilt): those the hours would end elsewhere. Not one whose hold's
    end has come (its deadline is due: the timer's release reads the hours then)."""
    found: list[Command] = []
    for r in requests:
        held = r.held_until
        if held is None or r.terminal or now >= held:
            continue
        if communities is not None and r.community_id not in communities:
            continue
        policy = state.policy(r.community_id)
        if communities is None and policy.quiet_until(r.spec, now) == held:
            continue
        found.append(
            quiet_hours_command(
                request_id=r.request_id,
                community_id=r.community_id,
                held_until=held,
                sent_at=now,
                quiet_start=policy.quiet_start,
                quiet_end=policy.quiet_end,
                time_zone=str(policy.zone),
            )
        )
    return found


def _quiet_hours(policy: CommunityPolicy | None) -> tuple[object, ...] | None:
    """What of a community's settings decides its holds: its quiet hours and zone."""
    if policy is None:
        return None
    return (policy.quiet_start, policy.quiet_end, policy.zone)


def _key(item: HeapItem) -> DeadlineKey:
    return (item.request_id, item.step, item.due_at)


def _key_bytes(item: HeapItem) -> bytes:
    return item.community_id.encode()


def _command(item: HeapItem, now: datetime) -> Command:
    """The deadline's command: the same id at every send, issued at `now` if that is past
    its due time (a worker that was down or behind goes on from now, `deadline_command`)."""
    return deadline_command(
        request_id=item.request_id,
        community_id=item.community_id,
        step=item.step,
        due_at=item.due_at,
        sent_at=now,
    )


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) else default


def _refused(exc: Exception) -> asyncio.Future[Any]:
    """A send refused outright, as the failed future `gather` reports like any other."""
    failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    failed.set_exception(exc)
    return failed
