"""The worker's start-up freeze (streams/gc_freeze.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

from streams.gc_freeze import AgeingFreeze, freeze_startup_objects


def _collectable(obj: object) -> bool:
    """Whether a collection of some generation still examines `obj` (frozen: none does)."""
    return any(o is obj for g in (0, 1, 2) for o in gc.get_objects(generation=g))


def test_start_up_objects_leave_the_collections_and_later_ones_do_not() -> None:
    gc.unfreeze()
    try:
        before = [object()]  # a container alive at start-up
        assert _collectable(before)
        frozen = freeze_startup_objects()
        assert frozen == gc.get_freeze_count() > 0
        assert not _collectable(before)
        after = [object()]  # built once the worker runs: collected as usual
        assert _collectable(after)
    finally:
        gc.unfreeze()


def test_the_thresholds_are_set_after_the_freeze() -> None:
    saved = gc.get_threshold()
    gc.unfreeze()
    try:
        freeze_startup_objects((5000, 10, 40))
        assert gc.get_threshold() == (5000, 10, 40)
        freeze_startup_objects()  # none given: left as they are
        assert gc.get_threshold() == (5000, 10, 40)
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()


def _cycle() -> list[object]:
    a: list[object] = []
    a.append(a)
    return a


def test_ageing_freeze_takes_survivors_out_of_the_collections_until_the_full_one() -> None:
    gc.unfreeze()
    ageing = AgeingFreeze(every_s=10, full_every_s=600, last_full=0.0)
    try:
        survivor = _cycle()
        ageing.tick(5.0)  # a young pass, then a freeze
        assert ageing.freezes == 1 and ageing.full_collections == 0
        assert not _collectable(survivor)
        watcher = weakref.ref(survivor_ref := _WeakCycle())  # frozen, then dropped
        ageing.tick(9.0)
        del survivor_ref
        gc.collect()  # every generation: the frozen cycle is not among them
        assert watcher() is not None
        ageing.tick(700.0)  # 600 s since the last full one: everything is collected
        assert watcher() is None
        assert ageing.full_collections == 1 and ageing.freed_by_full >= 1
        assert ageing.last_full == 700.0
        later = [object()]
        assert _collectable(later)
    finally:
        gc.unfreeze()


class _WeakCycle:
    """A cycle that a weak reference can watch (a list cannot be weakly referenced)."""

    def __init__(self) -> None:
        self.me = self


def test_ageing_freeze_reports_what_it_did() -> None:
    gc.unfreeze()
    ageing = AgeingFreeze(every_s=10, full_every_s=600, last_full=0.0)
    try:
        ageing.tick(1.0)
        ageing.tick(601.0)
        assert ageing.summary() == {
            "every_s": 10,
            "freezes": 2,
            "full_collections": 1,
            "freed_by_full": ageing.freed_by_full,
        }
    finally:
        gc.unfreeze()


def test_the_worker_installs_it_as_a_timer_of_its_app() -> None:
    timers: list[tuple[float, str, object]] = []

    class _App:  # Faust's `app.timer(interval, name=...)` decorator, recorded
        def timer(self, interval: float, name: str) -> object:
            def register(fn: object) -> object:
                timers.append((interval, name, fn))
                return fn

            return register

    ageing = AgeingFreeze()
    gc.unfreeze()
    try:
        ageing.install(_App(), 10.0, 600.0)
        assert [(i, n) for i, n, _ in timers] == [(10.0, "gc_freeze")]
        assert (ageing.every_s, ageing.full_every_s) == (10.0, 600.0)
        asyncio.run(timers[0][2]())  # type: ignore[operator]
        assert ageing.freezes == 1 and ageing.full_collections == 0  # not due yet
    finally:
        gc.unfreeze()
