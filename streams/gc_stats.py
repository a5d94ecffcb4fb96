"""How long the garbage collector stops the worker: per generation, counted from start-up.

A collection runs inside whatever allocation triggered it, with the event loop stopped, so
its pause lands on every request in flight; py-spy charges it to the allocating frame and
no profile shows it as such. `gc.callbacks` brackets each collection (start → stop); the
worker's /stats page reports the counts, the total and the full collections' pauses
(`bench e2e` reads them as `worker_gc_*`).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

from dispatcher.stats import percentile

KEEP = 10_000  # pauses kept per generation for the percentiles (the newest)


@dataclass(eq=False)
class GcWatch:
    collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    total_s: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    pauses_s: list[list[float]] = field(default_factory=lambda: [[], [], []])
    collected: int = 0  # unreachable objects freed (cycles)
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        g = info["generation"]
        self.collections[g] += 1
        self.total_s[g] += pause
        kept = self.pauses_s[g]
        kept.append(pause)
        if len(kept) > KEEP:
            del kept[: KEEP // 2]
        self.collected += info.get("collected", 0)

    def summary(self) -> dict[str, Any]:
        """For /stats: milliseconds, rounded to µs."""

        def ms(values: list[float]) -> dict[str, float | None]:
            return {
                k: None if (v := percentile(values, q)) is None else round(v * 1000, 3)
                for k, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
            }

        full = self.pauses_s[2]
        young = self.pauses_s[0] + self.pauses_s[1]
        return {
            "collections": list(self.collections),  # generation 0, 1, 2
            "total_ms": [round(t * 1000, 1) for t in self.total_s],
            "full_pause_ms": ms(full),
            "young_pause_ms": ms(young),
            "collected": self.collected,
            "frozen": gc.get_freeze_count(),
        }

    def install(self) -> GcWatch:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        return self

    def uninstall(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


WATCH = GcWatch()  # the process's own: the worker installs it at start-up
