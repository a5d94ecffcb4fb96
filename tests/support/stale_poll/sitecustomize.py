"""Test hook, loaded by the worker processes of tests/integration/test_recovery_stale_poll.py
(their PYTHONPATH names this directory): it forces, with waits only, the interleaving behind the
takeover stall (streams/faust_poll.py), which a loaded machine produces by chance.

1. As a rejoin begins, the poll in flight is woken, as a fetch response arriving then would:
   it goes on to wait inside aiokafka's `fetched_records` for the next assignment.
2. That poll resumes `STALE_POLL_HOLD_S` after the new assignment: a consumer thread slow to
   get the CPU back.
3. The table recovery waits `RECOVERY_HOLD_S` between its seek of the changelog partitions and
   the resumption of Faust's flow: an event loop slow to run the recovery on.

Nothing here changes what any step does, only when it runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from aiokafka.consumer.subscription_state import SubscriptionState
from faust.tables.recovery import Recovery

STALE_POLL_HOLD_S = float(os.environ.get("DISPATCH_TEST_STALE_POLL_HOLD_S", "2"))
RECOVERY_HOLD_S = float(os.environ.get("DISPATCH_TEST_RECOVERY_HOLD_S", "5"))

log = logging.getLogger("stale_poll_hook")
_begin_reassignment = SubscriptionState.begin_reassignment
_wait_for_assignment = SubscriptionState.wait_for_assignment
_seek_offsets = Recovery._seek_offsets


def begin_reassignment(self: Any) -> None:
    _begin_reassignment(self)
    for waiter in list(getattr(self, "_fetch_waiters", ())):
        if not waiter.done():
            waiter.set_result(None)


def wait_for_assignment(self: Any) -> Any:
    assigned = _wait_for_assignment(self)
    if sys._getframe(1).f_code.co_name != "fetched_records":
        return assigned
    log.warning("stale-poll hook: a poll waits for the next assignment")

    async def late() -> None:
        await assigned
        await asyncio.sleep(STALE_POLL_HOLD_S)
        log.warning("stale-poll hook: the poll resumes %.1f s after it", STALE_POLL_HOLD_S)

    return asyncio.ensure_future(late())


async def seek_offsets(self: Any, consumer: Any, tps: Any, offsets: Any, title: str) -> None:
    await _seek_offsets(self, consumer, tps, offsets, title)
    if title == "active" and tps:
        log.warning("stale-poll hook: recovery holds %.1f s after its seek", RECOVERY_HOLD_S)
        await asyncio.sleep(RECOVERY_HOLD_S)


SubscriptionState.begin_reassignment = begin_reassignment  # type: ignore[method-assign]
SubscriptionState.wait_for_assignment = wait_for_assignment  # type: ignore[method-assign]
Recovery._seek_offsets = seek_offsets  # type: ignore[method-assign]
