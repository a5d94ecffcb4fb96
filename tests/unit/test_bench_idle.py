"""`bench idle`'s run order (the measuring itself needs a worker: run the bench)."""

from __future__ import annotations

from dispatcher.bench.idle import turns


def test_rounds_alternate_which_wait_goes_first() -> None:
    assert turns([1500, 100], 3) == [(0, 1500), (0, 100), (1, 100), (1, 1500), (2, 1500), (2, 100)]


def test_every_wait_runs_once_a_round() -> None:
    order = turns([1500, 100, 20], 2)
    assert sorted(order) == [(r, w) for r in range(2) for w in (20, 100, 1500)]
