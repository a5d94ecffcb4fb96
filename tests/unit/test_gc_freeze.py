"""The worker's start-up freeze (streams/gc_freeze.py)."""

from __future__ import annotations

import gc

from streams.gc_freeze import freeze_startup_objects


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
