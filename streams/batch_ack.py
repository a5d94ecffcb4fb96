"""One acknowledgement per event of a batch record, the record acknowledged once all are.

The notify agent acknowledges a Faust event when every delivery it caused is done; a record
now holds a decision's events (schemas/event_batch.py), so the record waits for the last of
them. Until then its offset is not committed: after a crash the whole record comes again
and each event is planned again, with the same delivery ids (the receivers dedupe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BatchAck:
    record: Any  # the Faust event: `.ack()`
    waiting: set[int] = field(default_factory=set)

    @classmethod
    def parts(cls, record: Any, n: int) -> list[EventAck]:
        """`n` acknowledgements; the record's own once each has been called."""
        batch = cls(record, set(range(n)))
        return [EventAck(batch, i) for i in range(n)]

    def done(self, index: int) -> None:
        if index not in self.waiting:
            return  # acknowledged twice (an error after the deliveries settled): once counts
        self.waiting.discard(index)
        if not self.waiting:
            self.record.ack()


@dataclass(frozen=True)
class EventAck:
    batch: BatchAck
    index: int

    def ack(self) -> None:
        self.batch.done(self.index)
