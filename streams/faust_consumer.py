"""Faust's aiokafka consumer with offsets that cannot skip (the root fix for faust #596/#606).

faust-streaming 0.15.3 (newest release) loses records after a rebalance or restart: during
table recovery the fetcher keeps fetching stream partitions, `Recovery.on_recovery_completed`
resumes them before it seeks to the committed offsets, a batch fetched before the seek goes on
being delivered after it, the drain loop reads the jump as a "gap" and `_new_offset` commits
over it. `streams/faust_recovery.py` fixes the order; this consumer makes the offsets of the
contiguous topics (`commands`, `events`) safe whatever the order:

* a record above the next expected offset is not delivered: the consumer seeks back to the
  expected offset and reads again (records fetched before a seek, or drained from aiokafka
  while Faust had the partition paused, come back in order);
* gaps are never recorded on contiguous topics; an offset that re-reading never returns
  stops the worker (fail-stop: restarted, it resumes from the committed offset);
* unless the partition's log start is above it: retention deleted those records (a worker
  stopped for longer than the retention, or a record held unacknowledged that long), the
  committed offset is out of range and aiokafka went on from the log start. No restart
  brings them back (stopping would crash-loop the worker), so the range is reported as lost
  (a critical log line, `dispatch_records_lost_to_retention_total`, a dead letter) and
  reading goes on from the log start. The dead letter is never dropped: until Kafka has
  acknowledged it the partition's commit is held (the committed offset stays below the log
  start), so a worker that stops or exits first finds the loss again at its next start and
  letters it then; a letter not acknowledged within `LETTER_WAIT_SECONDS` is sent on in the
  background (the sink's tries, then exit 75: streams/dead_letter.py) while reading goes on;
* a commit never passes an unacknowledged offset, including while Faust has forgotten the
  committed offset: its revoke drops every partition's committed offset before it waits for
  the streams and commits what they acknowledge meanwhile, and an unknown head made the first
  acknowledgement the head, so an `events` record whose pushes settled during the wait was
  committed with earlier records' pushes still in flight. The consumer keeps each partition's
  head (the last committed offset it knew, or the first offset delivered when there was none)
  and commits from it.

The overridden Faust sources are pinned by `tests/unit/test_faust_pins.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, cast

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from faust.transport.consumer import ensure_TP
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from dispatcher.ops import metrics as ops_metrics
from streams.faust_poll import SnapshotPollThread, current_assignment
from streams.offsets import Admit, Hole, Lost, SeekGuard, commit_offset

log = logging.getLogger(__name__)

EXIT_OFFSET_HOLE = 70  # EX_SOFTWARE: the supervisor restarts the worker
# How long a lost range's dead letter may hold up reading before it is sent on in the background.
LETTER_WAIT_SECONDS = 10.0


def exit_on_hole(tp: TP, hole: Hole) -> None:
    log.critical(
        "offset hole on %s[%s]: expected %s, got %s; stopping so that no record is skipped",
        tp.topic,
        tp.partition,
        hole.expected,
        hole.got,
    )
    logging.shutdown()
    os._exit(EXIT_OFFSET_HOLE)


@dataclass(frozen=True)
class LostRecords:
    """What the dead-letter sink letters for a range lost to retention: its first offset,
    no key and no payload (there is nothing left to keep)."""

    topic: str
    partition: int
    offset: int
    key: None = None
    value: bytes = b""


class ContiguousConsumer(aiokafka_driver.Consumer):
    """See the module docstring. `app.contiguous_topics` names the topics it guards."""

    on_hole: ClassVar[Callable[[TP, Hole], None]] = staticmethod(exit_on_hole)

    #: aiokafka's `Assignment` object of the latest group assignment (see `on_partitions_assigned`).
    assignment_token: object | None = None
    #: From the start of Faust's revoke until the next assignment: every partition of the
    #: assignment is being taken back (aiokafka's protocol is eager) and the revoke waits for
    #: the records the streams hold (streams/membership_lease.py lets go of those it must not
    #: apply).
    revoking: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.guard: SeekGuard[TP] = SeekGuard()
        self.reseeks = 0
        super().__init__(*args, **kwargs)
        self.guard.contiguous_topics = frozenset(getattr(self.app, "contiguous_topics", ()))
        # Their loss counters at 0 from the start: the paging alert's increase() needs one.
        ops_metrics.METRICS.watch_topics(self.guard.contiguous_topics)

    @cached_property
    def _heads(self) -> dict[TP, int]:
        """Per contiguous partition, the first offset not committed as this consumer knows it:
        kept when Faust forgets its committed offset at a revoke (see the module docstring)."""
        return {}

    @cached_property
    def _lost_letters(self) -> dict[tuple[TP, int], asyncio.Task[None]]:
        """Per lost range (partition, first offset), its dead letter not yet acknowledged by
        Kafka: the partition's commit is held until it is (`_new_offset`). One per range
        found lost, so as many as the losses this worker met; a range found again while its
        letter is in flight is not sent twice."""
        return {}

    def _new_consumer_thread(self) -> SnapshotPollThread:
        return SnapshotPollThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        # A copy, taken on Faust's loop: the set itself changes while the consumer thread
        # polls with it (streams/faust_poll.py).
        snapshot = None if active_partitions is None else frozenset(active_partitions)
        return await self._thread.getmany(cast(Any, snapshot), timeout)

    async def _wait_next_records(self, timeout: float) -> Any:
        records, active = await super()._wait_next_records(timeout)
        if records:
            self._report_dropped_changelogs(records, active)
        return records, active

    def _report_dropped_changelogs(self, records: Any, active: set[TP] | None) -> None:
        """Upstream `getmany` drops what it cannot deliver; a changelog record dropped is read
        again by nothing (no committed offset). The poll (streams/faust_poll.py) hands over
        none it can tell, and this says so should any other path drop one."""
        if self.flow_active and active is None:
            return
        dropped = {
            f"{tp.topic}[{tp.partition}]": len(batch)
            for tp, batch in records.items()
            if self._is_changelog_tp(tp)
            and (
                not self.flow_active
                or (active is not None and tp not in active and tp not in self._buffered_partitions)
            )
        }
        if dropped:
            log.warning("changelog records fetched but not delivered: %s", dropped)

    def _contiguous(self, tp: TP) -> bool:
        return tp.topic in self.guard.contiguous_topics

    async def perform_seek(self) -> None:
        """Seek every assigned partition to its committed offset (upstream's, plus the guard)."""
        committed = await self.seek_to_committed()
        positions: dict[TP, int | None] = {
            ensure_TP(tp): (offset if offset is not None and offset >= 0 else None)
            for tp, offset in committed.items()
        }
        self._read_offset.update(positions)
        self._committed_offset.update(
            {tp: (offset if offset else None) for tp, offset in positions.items()}
        )
        for tp, position in positions.items():
            if position is None:  # nothing committed: the head is the first offset delivered
                self._heads.pop(tp, None)
            else:
                self._heads[tp] = position
        self.guard.seeked(positions)

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self.guard.seeked({ensure_TP(partition): offset})

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        reseeked: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if tp in reseeked:
                continue  # the rest of a batch read from the wrong position
            verdict = self.guard.admit(tp, tp.topic, message.offset)
            if verdict is not Admit.DELIVER and await self._skip_lost(tp):
                verdict = self.guard.admit(tp, tp.topic, message.offset)
            if verdict is Admit.DELIVER:
                if self._contiguous(tp) and tp not in self._heads:
                    self._heads[tp] = message.offset  # read from the log start: the head
                yield tp, message
                continue
            expected = self.guard.expected(tp)
            assert expected is not None
            if verdict is Admit.HOLE:
                self.on_hole(tp, Hole(expected, message.offset))
                return
            self.reseeks += 1
            reseeked.add(tp)
            log.info(
                "%s[%s]: got offset %s, expected %s: reading again from %s",
                tp.topic,
                tp.partition,
                message.offset,
                expected,
                expected,
            )
            try:
                await self.seek(tp, expected)
            except IllegalStateError:
                self.guard.forget([tp])  # revoked meanwhile: its next owner reads it

    async def _skip_lost(self, tp: TP) -> bool:
        """Whether the records from the expected offset on were deleted by retention; if so
        they are reported, and the guard and the committed offset move to the log start
        (else the first acknowledgement there would never be committable)."""
        start = await self._log_start(tp)
        lost = None if start is None else self.guard.log_start(tp, start)
        if lost is None:
            return False
        self._committed_offset[tp] = lost.end
        await self._report_lost(tp, lost)
        return True

    async def _log_start(self, tp: TP) -> int | None:
        try:
            starts = await self.earliest_offsets(tp)
        except Exception:  # unknown: the gap stays a gap (re-read, a hole if it lasts)
            log.warning(
                "%s[%s]: could not read the log start", tp.topic, tp.partition, exc_info=True
            )
            return None
        return starts.get(tp)

    async def _report_lost(self, tp: TP, lost: Lost) -> None:
        key = (tp, lost.first)
        if key in self._lost_letters:
            # Found again (a rebalance seeked back to the held commit) while its letter is in
            # flight: the same loss, reported once.
            return
        reason = (
            f"lost to retention: offsets {lost.first}..{lost.end - 1} ({lost.count} records) "
            "deleted before the worker's group committed them"
        )
        log.critical(
            "records lost to retention on %s[%s]: offsets %s..%s (%s records) were deleted "
            "before the group committed them; going on from the log start, %s",
            tp.topic,
            tp.partition,
            lost.first,
            lost.end - 1,
            lost.count,
            lost.end,
        )
        ops_metrics.METRICS.records_lost_to_retention.labels(tp.topic).inc(lost.count)
        sink = getattr(self.app, "dead_letter_sink", None)
        if sink is None:
            return
        letter = LostRecords(tp.topic, tp.partition, lost.first)
        sending = asyncio.ensure_future(self._send_lost_letter(sink, key, letter, reason))
        self._lost_letters[key] = sending
        # Sent before reading goes on, unless the broker is away: a send stuck on it must not
        # stall every partition's reading for its request timeout. It is not given up (no
        # cancel): the sink tries it again, then exits 75, and meanwhile the commit is held.
        await asyncio.wait({sending}, timeout=LETTER_WAIT_SECONDS)
        if not sending.done():
            log.error(
                "dead letter of the records lost on %s[%s] not acknowledged yet: sent on in the"
                " background, the partition's commit held until Kafka takes it",
                tp.topic,
                tp.partition,
            )

    async def _send_lost_letter(
        self, sink: Any, key: tuple[TP, int], letter: LostRecords, reason: str
    ) -> None:
        """Letter a lost range; the sink returns once Kafka acknowledged it (it logs, tries
        again, then exits 75: streams/dead_letter.py). Only then is the partition's commit
        let go: cancelled (the worker stopping), the hold stays, nothing past the range is
        committed, and the next start finds the loss again and letters it."""
        await sink.send(letter, reason, "process")
        del self._lost_letters[key]

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        if self._contiguous(tp):
            # Never: a missing offset on a plain topic is a record not processed, not a gap.
            # `getmany` has already stopped the worker if one was really missing.
            return
        await super()._add_gap(tp, offset_from, offset_to)

    def _new_offset(self, tp: TP) -> int | None:
        if not self._contiguous(tp):
            return super()._new_offset(tp)
        committed = self._committed_offset[tp]
        if committed is not None:
            self._heads[tp] = committed
        if self._lost_letters and any(lost_tp == tp for lost_tp, _ in self._lost_letters):
            return None  # a lost range not lettered yet: its loss must be found again
        acked = self._acked[tp]
        head = self._heads.get(tp)
        if not acked or head is None:  # no head known: nothing delivered since the seek
            return None
        acked.sort()
        # Not the first ack: the notify agent acknowledges records as their pushes settle,
        # out of order, so an unknown head must never be read off the acknowledgements.
        new, used = commit_offset(acked, head)
        if used:
            self._acked_index[tp].difference_update(acked[:used])
            acked[:used] = []
        return new

    async def on_stop(self) -> None:
        # After the last commit (upstream's, with the lost ranges' partitions held): a letter
        # still in flight is dropped here, not sent by a producer being stopped (the sink
        # would exit 75); the next start finds its loss again.
        await super().on_stop()
        for sending in list(self._lost_letters.values()):
            sending.cancel()

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # The consumer thread is parked in aiokafka's listener until this returns (Faust's
        # `threadsafe_partitions_assigned` awaits it), after `Subscription._assign` built this
        # assignment's `Assignment`: reading it here reads the one this callback is for. The
        # generation alone does not name an assignment: a static member rejoining, or a
        # follower in a stable group, can get the same generation with fresh partition states.
        self.assignment_token = current_assignment(self._thread._ensure_consumer())
        self.revoking = False
        await super().on_partitions_assigned(assigned, generation_id)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.revoking = True
        self.guard.forget(revoked)
        await super().on_partitions_revoked(revoked)

    async def stop_fetching(self, tps: set[TP], generation_id: int, assignment: object) -> int:
        """Have aiokafka stop fetching `tps`, which Faust keeps paused, for as long as the
        assignment of `generation_id` whose `assignment_token` was `assignment` lasts; returns
        how many it paused.

        Faust's `pause_partitions` is bookkeeping only: aiokafka goes on listing every
        assigned partition in every fetch, and parses each one in every answer (the idle
        changelog partitions after recovery: about half of the worker's). aiokafka builds new,
        unpaused partition states for every assignment, so the next rebalance's recovery
        fetches its changelogs as before; a call that comes after a newer join, or after a
        reassignment with the same generation, pauses nothing.
        """
        return cast(
            int,
            await self._thread.call_thread(self._pause_fetching, tps, generation_id, assignment),
        )

    async def _pause_fetching(self, tps: set[TP], generation_id: int, assignment: object) -> int:
        # In the consumer thread: aiokafka's state lives on that loop (a pause makes a future).
        # No await: nothing can change the assignment between the check and the pause.
        client = self._thread._ensure_consumer()
        subscription = client._subscription
        if (
            client._coordinator.generation != generation_id
            or subscription.reassignment_in_progress
            or assignment is None
            or current_assignment(client) is not assignment
        ):
            return 0  # a newer join or assignment: not the one recovered
        assigned = subscription.assigned_partitions()
        paused = [TopicPartition(tp.topic, tp.partition) for tp in tps if tp in assigned]
        client.pause(*paused)
        return len(paused)

    async def fetching(self) -> list[tuple[str, int]]:
        """The assigned partitions aiokafka fetches (assigned, not paused), for /stats."""
        return cast(list[tuple[str, int]], await self._thread.call_thread(self._fetching))

    async def _fetching(self) -> list[tuple[str, int]]:
        subscription = self._thread._ensure_consumer()._subscription
        paused = subscription.paused_partitions()
        assigned = subscription.assigned_partitions() - paused
        return sorted((tp.topic, tp.partition) for tp in assigned)


class ContiguousTransport(aiokafka_driver.Transport):
    Consumer = ContiguousConsumer
