"""The deadline timer's heap (pure core): due items fire once, re-fires back off, stale ones
drop, a rebuilt state's deadlines come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from dispatcher.core.deadlines import DeadlineHeap, HeapItem
from dispatcher.core.state import Deadline

T0 = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)


def waiting(step: int, due: datetime) -> Any:
    """A request as the heap sees it: its current step and deadline."""
    return SimpleNamespace(deadline_step=step, next_deadline=due)


def heap_with(request_id: str, step: int, due: datetime) -> tuple[DeadlineHeap, dict[str, Any]]:
    return DeadlineHeap([HeapItem(due, request_id, step, due, "c1")]), {
        request_id: waiting(step, due)
    }


def test_a_due_deadline_fires_once_and_then_backs_off() -> None:
    heap, requests = heap_with("r1", 0, T0)
    assert heap.pop_due(T0 - timedelta(seconds=1), requests) == []
    [item] = heap.pop_due(T0, requests)
    assert heap.pop_due(T0, requests) == []  # popped: not fired again at once
    fired_at = []
    now = T0
    for _ in range(6):  # the command keeps not being applied: re-fire with growing waits
        heap.retry_later(item, now)
        next_fire = heap.items[0].fire_at
        fired_at.append((next_fire - now).total_seconds())
        [item] = heap.pop_due(next_fire, requests)
        now = next_fire
    assert fired_at == [5, 10, 20, 40, 60, 60]
    assert item.attempt == 6


def test_a_retry_is_dropped_once_the_step_moved_on() -> None:
    heap, requests = heap_with("r1", 0, T0)
    [item] = heap.pop_due(T0, requests)
    heap.retry_later(item, T0)
    # The deadline command was applied: the request now waits for step 1.
    requests["r1"] = waiting(1, T0 + timedelta(seconds=30))
    assert heap.pop_due(T0 + timedelta(seconds=10), requests) == []
    assert len(heap) == 0


def test_a_deadline_of_a_pruned_request_is_dropped() -> None:
    heap, _ = heap_with("r1", 0, T0)
    assert heap.pop_due(T0, {}) == []
    assert len(heap) == 0


def test_an_acknowledged_deadline_command_is_checked_again_only_after_a_minute() -> None:
    # Kafka has it and the consumer cannot skip it: re-sending it would only feed a backlog.
    heap, requests = heap_with("r1", 0, T0)
    [item] = heap.pop_due(T0, requests)
    heap.retry_later(item, T0, acknowledged=True)
    assert heap.pop_due(T0 + timedelta(seconds=59), requests) == []
    assert len(heap.pop_due(T0 + timedelta(seconds=60), requests)) == 1


def test_restored_deadlines_fire_in_due_order_and_say_they_were_restored() -> None:
    later, sooner = T0 + timedelta(seconds=30), T0 + timedelta(seconds=10)
    heap = DeadlineHeap.restored([Deadline("r1", "c1", 2, later), Deadline("r2", "c2", 0, sooner)])
    requests = {"r1": waiting(2, later), "r2": waiting(0, sooner)}
    assert heap.pop_due(T0, requests) == []
    due = heap.pop_due(later, requests)
    assert [(i.request_id, i.step, i.community_id) for i in due] == [
        ("r2", 0, "c2"),
        ("r1", 2, "c1"),
    ]
    assert all(i.restored and i.attempt == 0 for i in due)


def test_a_decision_schedules_only_requests_that_wait_for_a_deadline() -> None:
    heap = DeadlineHeap()
    heap.note(
        [
            SimpleNamespace(  # type: ignore[list-item]
                request_id="r1", community_id="c1", deadline_step=1, next_deadline=T0
            ),
            SimpleNamespace(  # terminal: no deadline
                request_id="r2", community_id="c1", deadline_step=None, next_deadline=None
            ),
        ]
    )
    [item] = heap.pop_due(T0, {"r1": waiting(1, T0)})
    assert (item.request_id, item.step, item.due_at, item.restored) == ("r1", 1, T0, False)
