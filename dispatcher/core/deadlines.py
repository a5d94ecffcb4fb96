"""The deadline timer's heap: which deadlines are due, and when an unapplied one fires again.

Pure: `now` comes in, nothing is sent from here. The worker's timer pops due items, turns
them into deadline commands and reports back whether Kafka acknowledged each send.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatcher.core.state import Deadline
from schemas.records import RequestState

RETRY_FIRST_S = 5.0
RETRY_MAX_S = 60.0


@dataclass(order=True, frozen=True)
class HeapItem:
    fire_at: datetime  # when the timer should act: the deadline, or a retry after it
    request_id: str
    step: int
    due_at: datetime = field(compare=False)  # the request's deadline this item stands for
    community_id: str = field(compare=False)
    attempt: int = field(default=0, compare=False)  # deadline commands already sent for it
    restored: bool = field(default=False, compare=False)  # known when the state was rebuilt


@dataclass
class DeadlineHeap:
    items: list[HeapItem] = field(default_factory=list)

    @classmethod
    def restored(cls, deadlines: Iterable[Deadline]) -> DeadlineHeap:
        """The heap of a state rebuilt from the tables (after a restart or a rebalance)."""
        items = [
            HeapItem(d.due_at, d.request_id, d.step, d.due_at, d.community_id, restored=True)
            for d in deadlines
        ]
        heapq.heapify(items)
        return cls(items)

    def __len__(self) -> int:
        return len(self.items)

    def note(self, requests: Iterable[RequestState]) -> None:
        """Schedule the next deadline of each request a decision stored."""
        for request in requests:
            if request.next_deadline is not None and request.deadline_step is not None:
                heapq.heappush(
                    self.items,
                    HeapItem(
                        request.next_deadline,
                        request.request_id,
                        request.deadline_step,
                        request.next_deadline,
                        request.community_id,
                    ),
                )

    def pop_due(self, now: datetime, requests: Mapping[str, RequestState]) -> list[HeapItem]:
        """Due deadlines that are still current in `requests` (stale entries are dropped)."""
        due: list[HeapItem] = []
        while self.items and self.items[0].fire_at <= now:
            item = heapq.heappop(self.items)
            request = requests.get(item.request_id)
            if (
                request is not None
                and request.deadline_step == item.step
                and request.next_deadline == item.due_at
            ):
                due.append(item)
        return due

    def retry_later(self, item: HeapItem, now: datetime, *, acknowledged: bool = False) -> None:
        """If the deadline command is lost, fire again; once applied, this item is stale.

        A command Kafka acknowledged is durable and, since the consumer cannot skip records
        (streams/faust_consumer.py), will be applied: it is checked again only after
        RETRY_MAX_S, as defence in depth (a backlog is not fed with re-sends). A send that
        failed is retried after 5 s, doubling up to RETRY_MAX_S.
        """
        delay = RETRY_MAX_S if acknowledged else min(RETRY_FIRST_S * 2**item.attempt, RETRY_MAX_S)
        heapq.heappush(
            self.items,
            HeapItem(
                now + timedelta(seconds=delay),
                item.request_id,
                item.step,
                item.due_at,
                item.community_id,
                item.attempt + 1,
            ),
        )
