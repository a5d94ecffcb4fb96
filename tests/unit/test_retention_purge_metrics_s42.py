"""The API's hourly retention purge is counted (session 42's audit, F4): a run that fails
adds to `dispatch_retention_purge_runs_total{result="failed"}` and leaves
`dispatch_retention_purge_last_success_timestamp_seconds` where it was, so
DispatchRetentionPurgeStale pages once no purge has succeeded for 3 h
(tests/integration/test_deploy_dead_letter_and_purge_alerts_s42.py). Before, a purge
failing every hour was one WARNING line and no metric: contacts stayed past
DISPATCH_RETENTION_DAYS in silence. A success: tests/integration/test_purge_after_moves_s42.py.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import asyncpg

from dispatcher.ops.api_metrics import REGISTRY
from dispatcher.record.retention import purge_forever
from dispatcher.settings import Settings

RUNS = "dispatch_retention_purge_runs_total"
LAST_SUCCESS = "dispatch_retention_purge_last_success_timestamp_seconds"


def _runs(result: str) -> float:
    value = REGISTRY.get_sample_value(RUNS, {"result": result})
    assert value is not None, f"{RUNS}{{result={result!r}}} not exported"
    return value


def test_both_results_and_the_last_success_are_exported_from_the_start() -> None:
    assert _runs("ok") >= 0 and _runs("failed") >= 0
    started = REGISTRY.get_sample_value(LAST_SUCCESS)
    # The process's start stands in until the first success: no page before a first run.
    assert started is not None and 0 < started <= time.time()


async def test_a_failing_purge_is_counted_and_is_not_a_success() -> None:
    failed, ok = _runs("failed"), _runs("ok")
    last = REGISTRY.get_sample_value(LAST_SUCCESS)

    async def pool_of() -> asyncpg.Pool:  # PostgreSQL refuses the purge
        raise RuntimeError("permission denied for table request_private")

    loop = asyncio.create_task(
        purge_forever(Settings(mode="dev"), pool_of, lambda: datetime.now(UTC))
    )
    try:
        for _ in range(200):
            if _runs("failed") > failed:
                break
            await asyncio.sleep(0.01)
    finally:
        loop.cancel()
    assert (_runs("failed"), _runs("ok")) == (failed + 1, ok)
    assert REGISTRY.get_sample_value(LAST_SUCCESS) == last
