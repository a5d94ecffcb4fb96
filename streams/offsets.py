"""Offset bookkeeping for topics whose offsets are contiguous (not compacted, not transactional).

Pure logic, no Faust: `streams/faust_consumer.py` wires it into Faust's consumer. Kafka gives a
plain topic's records consecutive offsets, so on `commands` and `events` a missing offset is
never "a gap to skip" (Faust's reading, made for compacted topics) but a record this worker
has not processed. Three rules follow:

* a record above the next expected offset is never delivered: the consumer seeks back and
  reads again from the expected one (faust-streaming #596: delivering it let the consumer
  record the offsets in between as a gap and commit over them);
* if re-reading keeps skipping an offset still in the log, the record is gone: the worker
  must stop; records below the partition's log start were deleted by retention and can never
  be read: they are reported as lost and reading goes on from the log start;
* a commit never passes an offset that was not acknowledged (faust #606: `_new_offset`
  committed over a single missing head offset).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

TP = TypeVar("TP", bound=Hashable)


class Admit(Enum):
    DELIVER = "deliver"
    RESEEK = "reseek"  # above the next expected offset: read again from the expected one
    HOLE = "hole"  # re-reading keeps skipping the expected offset: it is gone


@dataclass(frozen=True)
class Hole:
    expected: int
    got: int


@dataclass(frozen=True)
class Lost:
    """Offsets `first` .. `end` - 1, deleted (by retention) before this group committed them;
    `end` is the partition's log start, the first offset still kept."""

    first: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.first


@dataclass
class SeekGuard(Generic[TP]):
    """Per partition of a contiguous topic: the next expected offset.

    A record above it was fetched from a position the consumer should not have had (a batch
    fetched before a seek, delivered after it; a record Faust drained from aiokafka and dropped
    while its partition was paused): the consumer seeks back to the expected offset and drops
    it. If re-reading keeps skipping the same offset (`max_reseeks` times without progress),
    the records are really gone: that is a hole, and the worker must stop rather than go on
    without them. Unless the expected offset is below the partition's log start (`log_start`):
    retention deleted those records, no restart brings them back, so stopping would only
    crash-loop the worker; they are reported as lost instead.
    """

    contiguous_topics: frozenset[str] = frozenset()
    max_reseeks: int = 20
    _expected: dict[TP, int] = field(default_factory=dict)
    _reseeks: dict[TP, int] = field(default_factory=dict)

    def seeked(self, positions: Mapping[TP, int | None]) -> None:
        """A seek is done: each partition's next expected offset is its new position."""
        for tp, position in positions.items():
            if position is None or position < 0:
                self._expected.pop(tp, None)  # no committed offset: any first offset is fine
            else:
                self._expected[tp] = position

    def admit(self, tp: TP, topic: str, offset: int) -> Admit:
        if topic not in self.contiguous_topics:
            return Admit.DELIVER
        expected = self._expected.get(tp)
        if expected is not None and offset > expected:
            n = self._reseeks.get(tp, 0) + 1
            self._reseeks[tp] = n
            return Admit.HOLE if n > self.max_reseeks else Admit.RESEEK
        self._reseeks.pop(tp, None)
        if expected is None or offset + 1 > expected:
            self._expected[tp] = offset + 1
        return Admit.DELIVER  # the next one, or a replay below it (processing is idempotent)

    def log_start(self, tp: TP, start: int) -> Lost | None:
        """The partition's earliest kept offset is `start` (asked when a record came above the
        expected offset). Records below it were deleted and can never be read: when the
        expected offset is below it, the expected offset moves to `start` and the deleted range
        is returned, to be reported. At or above it nothing changes: a record there that
        re-reading never returns is still a hole."""
        expected = self._expected.get(tp)
        if expected is None or expected >= start:
            return None
        self._expected[tp] = start
        self._reseeks.pop(tp, None)
        return Lost(expected, start)

    def expected(self, tp: TP) -> int | None:
        return self._expected.get(tp)

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions revoked: their next owner starts from the committed offset."""
        for tp in tps:
            self._expected.pop(tp, None)
            self._reseeks.pop(tp, None)


def commit_offset(acked: list[int], head: int | None) -> tuple[int | None, int]:
    """The offset to commit for a contiguous topic, and how many acked offsets it consumes.

    `acked` is sorted; `head` is the first offset not yet committed (None when unknown, i.e. no
    commit and no position yet). Commits only a run of consecutive acked offsets that starts at
    `head`: an unacknowledged head, or any hole, stops the commit there.
    """
    if not acked:
        return None, 0
    if head is not None and acked[0] != head:
        if acked[0] > head:
            return None, 0  # the head is not acknowledged yet
        # Acks below the head are already committed (a replay): drop them.
        below = 0
        while below < len(acked) and acked[below] < head:
            below += 1
        new, used = commit_offset(acked[below:], head)
        return new, used + below
    run = 1
    while run < len(acked) and acked[run] <= acked[run - 1] + 1:
        run += 1
    return acked[run - 1] + 1, run
