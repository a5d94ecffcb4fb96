"""Which callbacks hold a worker's event loops long: a census by task, for the latency tail.

A command that arrives while the loop runs something else waits for it to finish, and so
does one whose fetch Faust's consumer thread is still decoding (both threads hold one
GIL). Profiles show where the CPU goes, not how long each piece keeps the loop: this
counts every callback of either thread's asyncio loop that ran at least `min_ms`, by what
it ran (a task's coroutine; for Faust's agents and mode's service tasks, the function
inside), with its total and longest wall time and its total CPU time (the thread's own).
Wall time is what the loop waited; a callback whose thread waited for the GIL or for a
core mid-step is charged that wait too, so where the CPU time is much lower the callback
was mostly waiting (often for the other thread), and a "longest" may be the machine's
hiccup rather than the callback's own length.

Off by default (`DISPATCH_LOOP_CENSUS_MS`, 0): when on it wraps `asyncio.events.Handle._run`
for the whole process (a clock read before and after each callback; asyncio's own loop,
which the worker runs, not uvloop's). The worker's /stats page shows the census
(`loop_census`); `bench e2e --loop-census MS` turns it on and reports it per fixed rate.
"""

from __future__ import annotations

import asyncio.events
import threading
import time
from collections.abc import Callable
from typing import Any

# Wrappers whose own name says nothing: the function they run is in this frame local.
_RUNS_INNER = {"Service._execute_task": "task", "Agent._execute_actor": "coro"}


def callback_name(handle: asyncio.Handle) -> str:
    """What a handle runs, e.g. "main Agent._execute_actor/AwaitableActor/dispatch" or
    "Thread-2 Fetcher._proc_fetch_request" (read after it ran: a wrapper whose coroutine
    ended in that step is named without the function inside)."""
    callback: Any = handle._callback  # type: ignore[attr-defined]
    owner = getattr(callback, "__self__", None)
    name: str | None = None
    if isinstance(owner, asyncio.Task):
        coro: Any = owner.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        frame = getattr(coro, "cr_frame", None)
        local = _RUNS_INNER.get(name)
        if frame is not None and local is not None:
            inner = frame.f_locals.get(local)
            if inner is not None:
                name += "/" + getattr(inner, "__qualname__", type(inner).__name__)
            agent = frame.f_locals.get("self") if local == "coro" else None
            if agent is not None and getattr(agent, "name", None):
                name += f"/{agent.name}"
    if name is None:
        func = getattr(callback, "func", callback)  # a functools.partial: its function
        name = getattr(func, "__qualname__", type(func).__name__)
    thread = threading.current_thread()
    return ("main" if thread is threading.main_thread() else thread.name) + " " + name


class LoopCensus:
    def __init__(self) -> None:
        self.min_s = 0.0
        # name → [count, total wall s, longest wall s, total CPU s]
        self.counts: dict[str, list[float]] = {}
        self._lock = threading.Lock()  # two threads count
        self._original: Callable[[asyncio.Handle], None] | None = None

    @property
    def installed(self) -> bool:
        return self._original is not None

    def note(self, name: str, seconds: float, cpu_seconds: float) -> None:
        with self._lock:
            entry = self.counts.get(name)
            if entry is None:
                self.counts[name] = [1, seconds, seconds, cpu_seconds]
            else:
                entry[0] += 1
                entry[1] += seconds
                entry[2] = max(entry[2], seconds)
                entry[3] += cpu_seconds

    def install(self, min_ms: float) -> None:
        """Count from now on every callback of at least `min_ms` (> 0), in every thread."""
        if min_ms <= 0:
            raise ValueError("min_ms must be positive")
        self.min_s = min_ms / 1000
        if self._original is not None:
            return
        original = asyncio.events.Handle._run
        self._original = original
        census = self

        def _run(handle: asyncio.Handle) -> None:
            started, cpu = time.perf_counter(), time.thread_time()
            original(handle)
            took = time.perf_counter() - started
            if took >= census.min_s:
                census.note(callback_name(handle), took, time.thread_time() - cpu)

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            asyncio.events.Handle._run = self._original  # type: ignore[method-assign]
            self._original = None

    def summary(self) -> dict[str, Any] | None:
        """For /stats (None when off): each name's count, total and longest wall ms and
        total CPU ms, the longest-held first."""
        if not self.installed:
            return None
        with self._lock:
            rows = sorted(self.counts.items(), key=lambda kv: -kv[1][1])
        return {
            "min_ms": round(self.min_s * 1000, 3),
            "callbacks": {
                name: {
                    "count": int(n),
                    "total_ms": round(total * 1000, 2),
                    "max_ms": round(top * 1000, 2),
                    "cpu_ms": round(cpu * 1000, 2),
                }
                for name, (n, total, top, cpu) in rows
            },
        }


CENSUS = LoopCensus()  # the process's own: the worker installs it when asked (settings)
