"""The worker's /readyz (streams/web.py `readiness`): ready only as a member of the group, out
of a rebalance, with this generation's tables recovered; what a rolling update waits for
(deploy/k8s/worker.yaml)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from streams.faust_recovery import SeekFirstRecovery
from streams.web import readiness


def runtime(generation: int, rebalancing: bool, ready_generation: int) -> Any:
    recovery = SeekFirstRecovery.__new__(SeekFirstRecovery)  # only its bookkeeping is read
    recovery.ready_generation = ready_generation
    app = SimpleNamespace(
        consumer_generation_id=generation,
        rebalancing=rebalancing,
        tables=SimpleNamespace(recovery=recovery),
    )
    return SimpleNamespace(app=app, assigned_partitions=lambda: frozenset({3, 1}))


@pytest.mark.parametrize(
    ("generation", "rebalancing", "ready_generation", "status"),
    [
        (0, True, -1, "joining"),  # Faust's generation before the first join
        (4, True, 3, "rebalancing"),
        (4, True, 4, "rebalancing"),  # a new rebalance began: its generation is not known yet
        (4, False, 3, "recovering"),  # generation 4 assigned, its tables not recovered yet
        (4, False, 4, "ready"),
    ],
)
def test_ready_only_once_this_generations_tables_are_recovered(
    generation: int, rebalancing: bool, ready_generation: int, status: str
) -> None:
    ready, page = readiness(runtime(generation, rebalancing, ready_generation))
    assert (ready, page["status"], page["generation"]) == (status == "ready", status, generation)
    assert page.get("partitions") == ([1, 3] if ready else None)
