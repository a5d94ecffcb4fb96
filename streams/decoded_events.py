"""Each events record decoded at most once per worker, for the agents that read it.

The notify and record agents both read every record of the events topic (each with its own
consumer) and both validated it into the same pydantic events: 5-6 % of the worker's CPU
under `bench e2e`, half of it done twice. Whichever agent reads a record first decodes it and
keeps the result here, keyed by the record's bytes; the other takes it. Usually the notify
agent is first (the record agent waits out its batch window), but under load it falls behind.

The dispatch agent writes those records, in this process: it hands each record's events over
as it sends it (`hand_over`), so a reader of a record this worker wrote decodes nothing
(another 4 % of the worker under load). What a reader gets is what validating the record's
bytes gives, type for type (`tests/unit/test_decoded_events.py` checks every event of a
simulated week). Equal bytes give equal events, so a reader gets the same events either way;
a record a reader never takes (a partition the notify agent skips, another worker's record
agent owns it, a send that failed) is dropped past the bound, oldest first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from schemas.event_batch import Decoded, decode_record

# Records. The last reader takes each within a window (the record agent's is 0.2 s: ~150
# records at 200 req/s); past this the oldest go.
KEEP = 2048


@dataclass(slots=True)
class _Kept:
    decoded: Decoded
    reads: int  # still to come


class DecodedEvents:
    def __init__(self, keep: int = KEEP, readers: int = 2) -> None:
        self.keep = keep
        self.readers = readers  # agents of this worker that read every record
        self._kept: OrderedDict[bytes, _Kept] = OrderedDict()
        self.hits = 0  # reads of a record another reader decoded or the writer handed over
        self.misses = 0  # records decoded here (and kept for the others)
        self.handed = 0  # records the writer handed over

    def hand_over(self, raw: bytes, decoded: Decoded) -> None:
        """The writer's events of the record it sends as `raw` (with their bodies' JSON):
        each reader takes them instead of decoding (not copied: the writer keeps no
        reference). The writer's events are what validation of `raw` makes (frozen models,
        UTC times, the same fields set); a record sent twice is read twice more."""
        self.handed += 1
        kept = self._kept.get(raw)
        if kept is not None:
            kept.reads += self.readers
            return
        self._keep(raw, decoded, self.readers)

    def decode(self, raw: bytes) -> Decoded:
        """`decode_record(raw)` (raising as it does), done once for all readers."""
        kept = self._kept.get(raw)
        if kept is not None:
            self.hits += 1
            kept.reads -= 1
            if kept.reads <= 0:
                del self._kept[raw]
            return kept.decoded
        self.misses += 1
        decoded = decode_record(raw)
        if self.readers > 1:
            self._keep(raw, decoded, self.readers - 1)
        return decoded

    def summary(self) -> dict[str, int]:
        return {"handed": self.handed, "taken": self.hits, "decoded": self.misses}

    def _keep(self, raw: bytes, decoded: Decoded, reads: int) -> None:
        self._kept[raw] = _Kept(decoded, reads)
        if len(self._kept) > self.keep:
            self._kept.popitem(last=False)
