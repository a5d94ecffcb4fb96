"""The events records the notify agent decoded, handed to the record agent of the same worker.

Both agents read every record of the events topic (each with its own consumer) and both
validated it into the same pydantic events: 5-6 % of the worker's CPU under `bench e2e`,
half of it done twice. The notify agent reads a record first (the record agent waits out its
batch window), so it keeps what it decoded here, keyed by the record's bytes; the record
agent takes it, or decodes the bytes itself when it is not here (a partition the notify agent
skipped, a record decoded before a restart, one evicted). Equal bytes decode to equal events,
so what the record agent gets is the same either way.
"""

from __future__ import annotations

from collections import OrderedDict

from schemas.event_batch import Decoded, decode_record

# Records. The record agent takes each within its window (0.2 s: ~150 at 200 req/s); the rest
# are records it never takes here (another worker's record agent owns the partition).
KEEP = 2048


class DecodedEvents:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._kept: OrderedDict[bytes, Decoded] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def decode(self, raw: bytes) -> Decoded:
        """The notify agent's: decode (raising as `decode_record` does) and keep."""
        decoded = decode_record(raw)
        self._kept[raw] = decoded
        if len(self._kept) > self.keep:
            self._kept.popitem(last=False)  # the oldest: its reader is far behind, or gone
        return decoded

    def take(self, raw: bytes) -> Decoded:
        """The record agent's: what the notify agent decoded from these bytes, else decoded
        now (raising as `decode_record` does)."""
        decoded = self._kept.pop(raw, None)
        if decoded is None:
            self.misses += 1
            return decode_record(raw)
        self.hits += 1
        return decoded
