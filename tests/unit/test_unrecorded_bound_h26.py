"""Session 41 review of 791e99b: a requester's request the read model has not recorded is
theirs to end ("不用了") while the API holds it (`api_intake`), but not for ever: a submit
that dead-lettered is never recorded and its intake row never purged, so its thread stayed
open for good and, its command erased after retention, counted as critical
(`grave_among`): "另有一条紧急求助仍在进行" after every "不用了". Now only for the longest
request lifetime and a day (`group_threads.UNRECORDED_S`).

The statement runs on PostgreSQL in tests/integration/test_cancel_spares_emergency_s41.py
(a 2 h unrecorded thread still ends); here, without I/O: its bound."""

from __future__ import annotations

from typing import Any

from dispatcher.record.edge import group_threads as threads
from schemas.plans import PLAN_SETS


class _Pool:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.calls.append((query, args))
        return []


async def test_an_unrecorded_request_is_open_only_within_the_longest_lifetime_and_a_day() -> None:
    longest = max(p.lifetime_s for plans in PLAN_SETS.values() for p in plans.values())
    assert longest == 72 * 3600  # a low request's
    assert threads.UNRECORDED_S - longest == 24 * 3600
    pool = _Pool()
    await threads.open_requests_of(pool, "bot", "group", "sender")  # type: ignore[arg-type]
    [(query, args)] = pool.calls
    assert "i.opened_at > now() - make_interval(secs => $4)" in query
    assert args == ("bot", "group", "sender", float(threads.UNRECORDED_S))
