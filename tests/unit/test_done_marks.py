"""The batched `done` marks of idempotency answers (dispatcher/api/idempotency.DoneMarks)."""

from __future__ import annotations

import asyncio
from typing import Any

from dispatcher.api import idempotency
from dispatcher.api.idempotency import DoneMarks


class Pool:
    """Records the statements' key lists; `fail` makes the next one raise."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str]]] = []
        self.fail = False

    async def execute(self, _sql: str, bots: list[str], keys: list[str]) -> Any:
        if self.fail:
            self.fail = False
            raise ConnectionError("PostgreSQL went away")
        await asyncio.sleep(0)  # a round trip: marks may be added meanwhile
        self.batches.append(list(zip(bots, keys, strict=True)))


async def test_marks_go_in_batches_and_none_is_left_behind(monkeypatch: Any) -> None:
    monkeypatch.setattr(idempotency, "DONE_BATCH_S", 0.0)
    pool = Pool()

    async def get() -> Any:
        return pool

    marks = DoneMarks(get)
    marks.add("b", "k1")
    marks.add("b", "k2")  # the same batch
    await asyncio.sleep(0.01)
    marks.add("b", "k3")  # after the first flush: another
    await marks.close()
    assert [k for batch in pool.batches for _, k in batch] == ["k1", "k2", "k3"]
    assert pool.batches[0] == [("b", "k1"), ("b", "k2")]


async def test_a_failed_mark_is_logged_not_raised(monkeypatch: Any) -> None:
    monkeypatch.setattr(idempotency, "DONE_BATCH_S", 0.0)
    pool = Pool()
    pool.fail = True

    async def get() -> Any:
        return pool

    marks = DoneMarks(get)
    marks.add("b", "k1")  # lost: its answer stays in flight (a retry sends again)
    await asyncio.sleep(0.01)
    marks.add("b", "k2")
    await marks.close()
    assert pool.batches == [[("b", "k2")]]
