"""The load generators' clock: each request of an open-loop load handed to the event loop
at its scheduled time (`bench e2e`, `bench intake`).

Why a thread: asyncio's own timers wake late. Its selector waits in `epoll_wait`, whose
timeout is whole milliseconds, and asyncio rounds a timeout up (to wait *at least* that
long), so `asyncio.sleep(due - now)` returns 0–1 ms after `due`: measured p50 0.7–0.8 ms
late at 50 req/s (issue 18, docs/performance-log.md "Session 11 — intake"). Every
request of the load is timed from its scheduled time, so that lateness went whole into
`intake_p50_ms`. This thread sleeps in `time.sleep` (`clock_nanosleep`: late by the
kernel's timer slack and the wake-up, ≈ 0.1–0.2 ms on the shared machine) and wakes the loop with
`call_soon_threadsafe` (its self-pipe: `epoll_wait` returns at once). It sleeps between
requests: no spinning core.

Latencies stay measured from the scheduled time (a request handed over late, or held by
the in-flight cap, still counts its wait); the generator's remaining lateness is reported
beside them (`generator_lateness_*`), so a reader sees what the load generator added.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable

MAX_SLEEP_S = 0.25  # the thread sees a stop within this, however slow the rate


def due_time(t0: float, rate: float, i: int) -> float:
    """Request i's scheduled time (monotonic seconds): t0 + i / rate."""
    return t0 + i / rate


def run_schedule(
    count: int,
    t0: float,
    rate: float,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    hand: Callable[[int, float], None],
    stopped: Callable[[], bool],
) -> None:
    """The pacing thread's body: for each request in order, sleep until its due time
    (never longer than MAX_SLEEP_S at once, to see a stop), then `hand(i, due)`. A request
    already due (the thread itself was late) is handed at once: nothing is skipped, and
    the receiver measures from `due`, not from the hand-over."""
    for i in range(count):
        due = due_time(t0, rate, i)
        while True:
            if stopped():
                return
            wait = due - clock()
            if wait <= 0:
                break
            sleep(min(wait, MAX_SLEEP_S))
        hand(i, due)


class Pacer:
    """`count` requests at `rate` per second from `t0` (default: now), as `(i, due)`
    pairs from `next()` at their due times (None after the last). Use as
    `async with pacing(rate, count) as pacer`: the thread is stopped on the way out, also
    when the caller stops early."""

    def __init__(self, rate: float, count: int, t0: float | None = None) -> None:
        self.rate = rate
        self.count = count
        self.t0 = time.monotonic() if t0 is None else t0
        self._queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()

        def hand(i: int, due: float) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, (i, due))

        def run() -> None:
            run_schedule(
                self.count,
                self.t0,
                self.rate,
                clock=time.monotonic,
                sleep=time.sleep,
                hand=hand,
                stopped=self._stop.is_set,
            )
            if not self._stop.is_set():
                loop.call_soon_threadsafe(self._queue.put_nowait, None)

        self._thread = threading.Thread(target=run, name="bench-pacer", daemon=True)
        self._thread.start()

    async def next(self) -> tuple[int, float] | None:
        """The next request's index and due time, once due; None: all handed out."""
        return await self._queue.get()

    async def stop(self) -> None:
        """Stop the thread and wait for it (within MAX_SLEEP_S), without blocking the loop,
        so that it never calls into a closed loop."""
        self._stop.set()
        while self._thread is not None and self._thread.is_alive():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def pacing(rate: float, count: int, t0: float | None = None) -> AsyncIterator[Pacer]:
    pacer = Pacer(rate, count, t0)
    pacer.start()
    try:
        yield pacer
    finally:
        await pacer.stop()
