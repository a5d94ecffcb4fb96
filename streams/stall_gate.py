"""Queued pushes held after the worker stood still long enough to be expelled from its group.

A worker stopped (SIGSTOP, a frozen VM) for longer than the session timeout is expelled;
another member takes its partitions over and pushes their events again from the committed
offsets. Resumed, the stopped worker learns of it only at its next heartbeat and rejoins:
until its new assignment withdraws what it queued for those partitions
(`Notifier.withdraw_moved`), its push lanes went on sending that queue, the new owner's
pushes twice. Holding every push while the membership lease (streams/membership_lease.py)
is old would also stop them in a broker outage, when nobody else can own the partitions.
What tells the two apart is the worker's own loop: in an outage it keeps running, in a stop
it stood still.

So a tick notes the loop's progress; a gap of at least `threshold` seconds (the session
timeout less a heartbeat interval: shorter, the broker cannot have expelled the member) puts
the pushes in doubt, checked again before every send (the lanes may run before the tick
after a stop). The doubt ends when a heartbeat sent after the stall was answered as a
member's and the broker has not forgotten the member meanwhile (the partitions stayed
this worker's), or at the next assignment, whose withdrawal has run by then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.membership_lease import MembershipLease

TICK_S = 0.5


@dataclass(frozen=True, slots=True)
class _Doubt:
    since: float  # when the stall was seen (monotonic): after it ended
    losses: int  # the lease's losses then


class StallGate:
    def __init__(
        self,
        threshold: float,
        lease: Callable[[], MembershipLease | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.lease = lease
        self.clock = clock
        self.last_tick = clock()
        self.doubt: _Doubt | None = None
        self.stalls = 0  # stalls seen (the worker's /stats)
        self.longest = 0.0  # seconds

    def tick(self) -> None:
        now = self.clock()
        self._see(now)
        self.last_tick = now

    def holding(self) -> bool:
        """Whether pushes wait: a stall seen, and neither confirmed harmless nor followed by
        an assignment yet."""
        now = self.clock()
        if now - self.last_tick >= self.threshold:
            self._see(now)
        doubt = self.doubt
        if doubt is None:
            return False
        lease = self.lease()
        if (
            lease is not None
            and lease.confirmed_at is not None
            and lease.confirmed_at >= doubt.since
            and lease.losses == doubt.losses
        ):
            self.doubt = None  # still the same member: nobody took the partitions over
            return False
        return True

    def assigned(self) -> None:
        """An assignment ran (and withdrew what moved): pushes go on."""
        self.doubt = None

    def summary(self) -> dict[str, object]:
        return {
            "stalls": self.stalls,
            "longest_s": round(self.longest, 3),
            "holding": bool(self.doubt),
        }

    def _see(self, now: float) -> None:
        gap = now - self.last_tick
        if gap < self.threshold:
            return
        self.last_tick = now  # seen once
        self.stalls += 1
        self.longest = max(self.longest, gap)
        lease = self.lease()
        self.doubt = _Doubt(now, lease.losses if lease is not None else 0)


def threshold_for(session_seconds: float, heartbeat_seconds: float) -> float:
    """The shortest stall after which the broker may have expelled the member: its last
    heartbeat may have been sent up to an interval before the stall began."""
    return max(session_seconds - heartbeat_seconds, 1.0)
