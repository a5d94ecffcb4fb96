"""A copy's mark is written only by a confirmed member (review R3 of a251ca3).

The dispatch agent, reading one command it sends again instead of deciding
(streams/late_commands.py), keeps where the copy went (`rt.state.copies`, and the requests
table's `<rid>\\x00copy`). Before, that path wrote the mark without confirming the group
membership, unlike a decision's tables: a worker expelled unknowingly (stopped, then resumed)
could overwrite the partition's new owner's later mark with its older one, and the new owner's
commands read between the two positions were no longer kept behind the later copy. Now it
lets the command go, unacknowledged and with no mark kept, as a decision does.

The real agent, the commands partition and the tables in memory (test_late_replies_s42's
`Worker`), the membership lease of test_membership_lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from streams.membership_lease import MembershipLease
from tests.unit.test_dispatch_groups import FakeEvent
from tests.unit.test_late_replies_s42 import BACK, MARK, T0, _asked
from tests.unit.test_membership_lease import revoke_soon, with_lease
from tests.unit.test_send_failure_not_dead_lettered_s37 import no_exit

__all__ = ["no_exit"]  # os._exit raising (autouse): an exit is seen, not taken


async def test_a_membership_lost_while_a_copy_was_out_keeps_no_mark(tmp_path: Path) -> None:
    w, no, _ = await _asked(tmp_path)
    w.world.now = T0 + timedelta(minutes=1)
    at = w.post(w.decline(no), "decline-1")
    w.clock.at = BACK
    lease = MembershipLease(10.0)
    lease.confirm(asyncio.get_running_loop().time())
    consumer = with_lease(w.rt, lease)
    send = w.log.send

    async def expelled_meanwhile(key: bytes, value: bytes) -> asyncio.Future[Any]:
        lease.lose()  # stopped while the copy was out: resumed, expelled meanwhile
        return await send(key, value)

    w.log.send = expelled_meanwhile  # type: ignore[method-assign]
    revoking = asyncio.create_task(revoke_soon(consumer))
    assert not await w.dispatch.handle_group([FakeEvent(at, w.log.values[at])])
    await revoking
    assert len(w.log.values) == at + 2  # the copy is out (decided once, whoever reads it)
    # No mark, in memory or in the tables; the decline not acknowledged: read again by the
    # partition's next owner.
    assert "req-1" not in w.rt.state.copies
    assert MARK not in w.rt.requests_table
    assert consumer._unacked_messages.discarded == [at]
