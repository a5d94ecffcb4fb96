"""Which delivery ids have been delivered: the engine's deduplication memory.

In-memory by default (bounded); the lead can back the protocol with PostgreSQL so that a
restarted worker does not re-send what it already delivered.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol


class DeliveredLedger(Protocol):
    async def is_delivered(self, delivery_id: str) -> bool: ...

    async def mark_delivered(self, delivery_id: str) -> None: ...


class InMemoryLedger:
    def __init__(self, max_entries: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._max = max_entries

    async def is_delivered(self, delivery_id: str) -> bool:
        return delivery_id in self._ids

    async def mark_delivered(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        self._ids.move_to_end(delivery_id)
        while len(self._ids) > self._max:  # oldest first: offers are short-lived
            self._ids.popitem(last=False)
