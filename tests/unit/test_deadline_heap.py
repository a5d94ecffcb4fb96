"""The worker's deadline heap: due items fire once, re-fires back off, stale ones drop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from streams.state_store import HeapItem, WorkerState

T0 = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)


def state_with(request_id: str, step: int, due: datetime) -> WorkerState:
    state = WorkerState()
    state.core.requests[request_id] = SimpleNamespace(  # type: ignore[assignment]
        deadline_step=step, next_deadline=due
    )
    state.heap = [HeapItem(due, request_id, step, due, "c1")]
    return state


def test_a_due_deadline_fires_once_and_then_backs_off() -> None:
    state = state_with("r1", 0, T0)
    assert state.pop_due(T0 - timedelta(seconds=1)) == []
    [item] = state.pop_due(T0)
    assert state.pop_due(T0) == []  # popped: not fired again at once
    fired_at = []
    now = T0
    for _ in range(6):  # the command keeps not being applied: re-fire with growing waits
        state.retry_later(item, now)
        next_fire = state.heap[0].fire_at
        fired_at.append((next_fire - now).total_seconds())
        [item] = state.pop_due(next_fire)
        now = next_fire
    assert fired_at == [5, 10, 20, 40, 60, 60]


def test_a_retry_is_dropped_once_the_step_moved_on() -> None:
    state = state_with("r1", 0, T0)
    [item] = state.pop_due(T0)
    state.retry_later(item, T0)
    # The deadline command was applied: the request now waits for step 1.
    state.core.requests["r1"] = SimpleNamespace(  # type: ignore[assignment]
        deadline_step=1, next_deadline=T0 + timedelta(seconds=30)
    )
    assert state.pop_due(T0 + timedelta(seconds=10)) == []
    assert state.heap == []


def test_an_acknowledged_deadline_command_is_checked_again_only_after_a_minute() -> None:
    # Kafka has it and the consumer cannot skip it: re-sending it would only feed a backlog.
    state = state_with("r1", 0, T0)
    [item] = state.pop_due(T0)
    state.retry_later(item, T0, acknowledged=True)
    assert state.pop_due(T0 + timedelta(seconds=59)) == []
    assert len(state.pop_due(T0 + timedelta(seconds=60))) == 1
