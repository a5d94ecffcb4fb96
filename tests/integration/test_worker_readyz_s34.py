"""The worker's /readyz against the real broker (streams/web.py; session 34): 503 until the
worker is a member of the group with its generation's tables recovered, then 200 with the
partitions it serves; after a second worker joins, both ready in one generation, sharing the
partitions. A rolling update waits for it (deploy/k8s/worker.yaml's readiness probe)."""

from __future__ import annotations

from typing import Any

import httpx

from dispatcher.testing.stack import LocalStack, Proc
from tests.support.waiting import eventually


async def readyz(proc: Proc) -> tuple[int, dict[str, Any]] | None:
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{proc.web_port}/readyz", timeout=3)
    except httpx.HTTPError:
        return None  # not serving yet
    return r.status_code, r.json()


async def test_readyz_says_when_a_worker_serves_its_partitions(stack: LocalStack) -> None:
    first = stack.start_worker("worker-1")
    seen: list[tuple[int, str]] = []

    async def ready(proc: Proc) -> dict[str, Any] | None:
        answer = await readyz(proc)
        if answer is None:
            return None
        status, page = answer
        seen.append((status, page["status"]))
        assert (status == 200) == (page["status"] == "ready"), answer
        return page if status == 200 else None

    alone = await eventually(lambda: ready(first), timeout=120, what="worker-1 ready")
    assert alone["partitions"] == list(range(stack.partitions)) and alone["generation"] >= 1
    assert {s for _, s in seen} <= {"joining", "rebalancing", "recovering", "ready"}

    second = stack.start_worker("worker-2")

    async def both() -> tuple[dict[str, Any], dict[str, Any]] | None:
        a, b = await ready(first), await ready(second)
        if a is None or b is None or a["generation"] != b["generation"]:
            return None
        return a, b

    a, b = await eventually(both, timeout=120, what="both workers ready in one generation")
    assert a["generation"] > alone["generation"]
    assert a["partitions"] and b["partitions"] and not set(a["partitions"]) & set(b["partitions"])
    assert sorted(a["partitions"] + b["partitions"]) == list(range(stack.partitions))
