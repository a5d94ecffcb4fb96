"""The load generators' pacing (dispatcher/bench/pacer.py): the schedule on a fake clock."""

from __future__ import annotations

import pytest

from dispatcher.bench.pacer import MAX_SLEEP_S, due_time, pacing, run_schedule


class FakeClock:
    """Time moves only when the schedule sleeps (by `late` more than it asked: a late wake)."""

    def __init__(self, now: float, late: float = 0.0) -> None:
        self.now = now
        self.late = late
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.late


def _run(
    count: int, t0: float, rate: float, clock: FakeClock, stop_after: int | None = None
) -> list[tuple[int, float, float]]:
    handed: list[tuple[int, float, float]] = []
    run_schedule(
        count,
        t0,
        rate,
        clock=clock,
        sleep=clock.sleep,
        hand=lambda i, due: handed.append((i, due, clock.now)),
        stopped=lambda: stop_after is not None and len(handed) >= stop_after,
    )
    return handed


def test_each_request_is_handed_at_its_due_time_in_order() -> None:
    clock = FakeClock(now=10.0)
    handed = _run(5, 10.0, 50.0, clock)
    assert [i for i, _, _ in handed] == [0, 1, 2, 3, 4]
    assert [due for _, due, _ in handed] == pytest.approx([10.0, 10.02, 10.04, 10.06, 10.08])
    assert all(at == pytest.approx(due) for _, due, at in handed)
    assert clock.sleeps == pytest.approx([0.02] * 4)  # sleeps the gap: no spinning
    assert due_time(10.0, 50.0, 3) == pytest.approx(10.06)


def test_a_late_wake_keeps_the_schedule_and_skips_nothing() -> None:
    # Each sleep overshoots by 5 ms: every request is handed 5 ms late, with its *scheduled*
    # time (the receiver measures from it), and the next sleep is shortened to catch up.
    clock = FakeClock(now=0.0, late=0.005)
    handed = _run(4, 0.0, 100.0, clock)
    assert [due for _, due, _ in handed] == pytest.approx([0.0, 0.01, 0.02, 0.03])
    assert [at - due for _, due, at in handed][1:] == pytest.approx([0.005] * 3)
    assert clock.sleeps == pytest.approx([0.01, 0.005, 0.005])


def test_requests_already_due_are_handed_at_once() -> None:
    clock = FakeClock(now=5.0)  # started a second after t0: 100 requests already due
    handed = _run(150, 4.0, 100.0, clock)
    assert len(handed) == 150
    assert all(at == 5.0 for _, _, at in handed[:101])  # 0..100 due by now: no sleep
    assert clock.sleeps == pytest.approx([0.01] * 49)  # then one gap per request
    assert [due for _, due, _ in handed] == sorted(due for _, due, _ in handed)


def test_a_slow_rate_sleeps_in_short_steps_and_sees_a_stop() -> None:
    clock = FakeClock(now=0.0)
    handed = _run(3, 0.0, 1.0, clock, stop_after=2)
    assert [i for i, _, _ in handed] == [0, 1]  # stopped before the third
    assert max(clock.sleeps) <= MAX_SLEEP_S
    assert sum(clock.sleeps) == pytest.approx(1.0)


async def test_the_pacer_hands_every_request_in_order_then_ends() -> None:
    got: list[tuple[int, float]] = []
    async with pacing(2000.0, 20) as pacer:
        while (item := await pacer.next()) is not None:
            got.append(item)
    assert [i for i, _ in got] == list(range(20))
    assert [due for _, due in got] == pytest.approx([pacer.t0 + i / 2000.0 for i in range(20)])


async def test_leaving_early_stops_the_pacing_thread() -> None:
    async with pacing(1.0, 100) as pacer:
        assert await pacer.next() == (0, pacer.t0)
    thread = pacer._thread
    assert thread is not None and not thread.is_alive()  # never calls into a closed loop
