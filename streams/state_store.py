"""The worker's durable state: two Faust tables (changelogged) and the core's in-memory view.

Each table value records the partition it was written on. Faust's memory store forgets only
*recovered* keys of revoked partitions, not keys written live, so a rebuild filters by the
partitions this worker is assigned now.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from dispatcher.core import Decision, DispatchState
from schemas.plans import EscalationPlan
from schemas.records import HelperState, RequestState
from schemas.vocab import Urgency

log = logging.getLogger(__name__)
R = TypeVar("R", RequestState, HelperState)

RETRY_FIRST_S = 5.0
RETRY_MAX_S = 60.0


def encode_record(partition: int, record: RequestState | HelperState) -> bytes:
    return json.dumps({"p": partition, "r": record.model_dump(mode="json")}).encode()


def decode_record(raw: bytes) -> tuple[int, dict[str, Any]]:
    doc = json.loads(raw)
    return int(doc["p"]), doc["r"]


def _owned(
    items: Iterable[tuple[Any, Any]], partitions: frozenset[int], model: type[R]
) -> tuple[list[R], int]:
    """Decode the stored records of `partitions`; count those of other partitions."""
    owned: list[R] = []
    skipped = 0
    for _, raw in items:
        if raw is None:
            continue
        p, rec = decode_record(raw)
        if p in partitions:
            owned.append(model.model_validate(rec))
        else:
            skipped += 1
    return owned, skipped


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
class WorkerState:
    """The core's state for every partition this worker owns, plus the deadline heap."""

    core: DispatchState = field(default_factory=lambda: DispatchState())
    heap: list[HeapItem] = field(default_factory=list)
    generation: int = -1  # the consumer generation this state was rebuilt for
    partitions: frozenset[int] = frozenset()

    @classmethod
    def rebuild(
        cls,
        requests_items: Iterable[tuple[Any, Any]],
        helpers_items: Iterable[tuple[Any, Any]],
        partitions: frozenset[int],
        generation: int,
        plans: Mapping[Urgency, EscalationPlan] | None = None,
    ) -> WorkerState:
        reqs, skipped_r = _owned(requests_items, partitions, RequestState)
        helpers, skipped_h = _owned(helpers_items, partitions, HelperState)
        skipped = skipped_r + skipped_h
        state = cls(
            core=DispatchState.rebuild(helpers, reqs, plans=plans),
            generation=generation,
            partitions=partitions,
        )
        state.heap = [
            HeapItem(d.due_at, d.request_id, d.step, d.due_at, d.community_id, restored=True)
            for d in state.core.deadlines()
        ]
        heapq.heapify(state.heap)
        log.info(
            "state rebuilt for partitions %s: %d requests, %d helpers, %d deadlines"
            " (%d records of other partitions ignored)",
            sorted(partitions),
            len(reqs),
            len(helpers),
            len(state.heap),
            skipped,
        )
        return state

    def note_decision(self, decision: Decision) -> None:
        for request in decision.requests.values():
            if request.next_deadline is not None and request.deadline_step is not None:
                heapq.heappush(
                    self.heap,
                    HeapItem(
                        request.next_deadline,
                        request.request_id,
                        request.deadline_step,
                        request.next_deadline,
                        request.community_id,
                    ),
                )

    def pop_due(self, now: datetime) -> list[HeapItem]:
        """Due deadlines that are still current (stale heap entries are dropped here)."""
        due: list[HeapItem] = []
        while self.heap and self.heap[0].fire_at <= now:
            item = heapq.heappop(self.heap)
            request = self.core.requests.get(item.request_id)
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
            self.heap,
            HeapItem(
                now + timedelta(seconds=delay),
                item.request_id,
                item.step,
                item.due_at,
                item.community_id,
                item.attempt + 1,
            ),
        )
