"""Each events record decoded once per worker, for the two agents that read it.

The notify and record agents both read every record of the events topic (each with its own
consumer) and both validated it into the same pydantic events: 5-6 % of the worker's CPU
under `bench e2e`, half of it done twice. Whichever agent reads a record first decodes it and
keeps the result here, keyed by the record's bytes; the other takes it. Usually the notify
agent is first (the record agent waits out its batch window), but under load it falls behind.
Equal bytes decode to equal events, so a reader gets the same events either way; a record
the other reader never takes (a partition the notify agent skips, another worker's record
agent owns it) is dropped past the bound, oldest first.
"""

from __future__ import annotations

from collections import OrderedDict

from schemas.event_batch import Decoded, decode_record

# Records. The second reader takes each within a window (the record agent's is 0.2 s: ~150
# records at 200 req/s); past this the oldest go.
KEEP = 2048


class DecodedEvents:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._kept: OrderedDict[bytes, Decoded] = OrderedDict()
        self.hits = 0  # records the other reader had decoded
        self.misses = 0  # records decoded here (and kept for the other)

    def decode(self, raw: bytes) -> Decoded:
        """`decode_record(raw)` (raising as it does), done once for the two readers."""
        decoded = self._kept.pop(raw, None)
        if decoded is not None:
            self.hits += 1
            return decoded
        self.misses += 1
        decoded = decode_record(raw)
        self._kept[raw] = decoded
        if len(self._kept) > self.keep:
            self._kept.popitem(last=False)
        return decoded
