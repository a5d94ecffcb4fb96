"""Keep what the worker built at start-up out of the garbage collector's full collections.

A full (generation 2) collection walks every tracked object. Measured in the worker under
`bench e2e`: ~190,000 objects, of which ~110,000 are modules, classes, functions and
pydantic schemas built at start-up, and one full collection took 50-100 ms of CPU with the
event loop stopped — a stall on every request in flight, every 15-20 s at 50 req/s.
Frozen (`gc.freeze`), those objects are never examined again; they live as long as the
process anyway. Objects created later (the tables' state, requests) are frozen in turn once
they have aged (`AgeingFreeze`, below), and all of it is collected again every few minutes.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


def freeze_startup_objects(thresholds: tuple[int, int, int] | None = None) -> int:
    """Collect once, then move every surviving object to the permanent generation; then set
    the collector's `thresholds` (none: as they are)."""
    gc.collect()
    gc.freeze()
    if thresholds is not None:
        gc.set_threshold(*thresholds)
    frozen = gc.get_freeze_count()
    log.info("garbage collector: %d start-up objects frozen", frozen)
    return frozen


@dataclass(eq=False)
class AgeingFreeze:
    """Freeze the state that survived the last `every_s` seconds; collect it all rarely.

    The worker's long-lived objects (open requests, helpers) are what every full collection
    walks again, stopping the event loop 100-300 ms each time at 200 requests/s. They are
    not cyclic garbage: they die by reference counting, which freezing does not stop. So
    every `every_s` the young generations are collected and what survived is frozen; the
    full collections then walk only what aged since. Cyclic garbage frozen meanwhile (an
    object alive at a freeze that later becomes part of an unreachable cycle) waits for the
    full collection of everything every `full_every_s` (unfreeze, collect, freeze).
    """

    every_s: float = 0.0  # 0: not installed
    full_every_s: float = 600.0
    last_full: float = 0.0  # monotonic time of the last full collection of everything
    freezes: int = 0
    full_collections: int = 0
    freed_by_full: int = 0  # unreachable objects found by those: what freezing held back

    def tick(self, mono: float) -> None:
        if mono - self.last_full >= self.full_every_s:
            self.last_full = mono
            gc.unfreeze()
            freed = gc.collect()
            self.full_collections += 1
            self.freed_by_full += freed
            log.info("garbage collector: full collection of everything freed %d objects", freed)
        else:
            gc.collect(1)
        gc.freeze()
        self.freezes += 1

    def install(self, app: Any, every_s: float, full_every_s: float) -> None:
        self.every_s, self.full_every_s = every_s, full_every_s
        self.last_full = time.monotonic()

        @app.timer(self.every_s, name="gc_freeze")
        async def ageing_freeze() -> None:
            try:
                self.tick(time.monotonic())
            except Exception:  # a timer that raises is not rescheduled reliably: log, go on
                log.exception("ageing freeze failed")

    def summary(self) -> dict[str, float]:
        return {
            "every_s": self.every_s,
            "freezes": self.freezes,
            "full_collections": self.full_collections,
            "freed_by_full": self.freed_by_full,
        }


AGEING = AgeingFreeze()  # the process's own (the collector is per process): the worker installs it
