"""A worker applies a command only while its group membership is confirmed (session 33).

A worker stopped (SIGSTOP, a frozen VM, a stalled host) for longer than the session timeout is
expelled by the broker and its partitions are taken over by another member, which recovers
their tables and serves their commands. Resumed, the stopped worker does not know yet: its
event loop goes on with the commands it had fetched before it stopped, of partitions the new
owner has already served, and their changelog records and events land after the owner's (a
chaos run: 12 and 27 commands applied 0.1-0.5 s after SIGCONT, some 5 s after the survivor
had applied them; a later recovery reading the stale state last, duplicate offers). aiokafka
learns of the eviction only from the next heartbeat's answer, and keeps the time of its last
good heartbeat in a local of its heartbeat routine, checked only after that answer.

The lease: the member's group coordinator (`streams/group_heartbeat.py`) records, on
`time.monotonic()`, when it *sent* the last heartbeat the broker answered as a member's (or
began the join that just succeeded): the broker's session for it began no earlier. While that
is younger than the session timeout the broker cannot have expelled the member, so no one else
can own its partitions; once older, it may have. The dispatch agent then applies no command
(decides nothing, writes no changelog record, emits no event) until a heartbeat succeeds
again, or Faust's revoke begins: the rebalance takes every partition (aiokafka's protocol is
eager), so the commands are let go unapplied and unacknowledged (never committed; whoever owns
the partition next reads them again), and Faust's revoke, which waits for them, goes on. A
SIGSTOP freezes the worker's loops and its clock reading with them, so the check is made at the
moment of processing, on the monotonic clock, which ran on during the stop.

The agent checks before deciding and again once the events are acknowledged, before the
table records (a stop while the events are out). What is left: a worker stopped between that
last check and the producer sending its table records still sends them on resuming: the
window is that stretch of CPU (no wait in it), not the stop.
"""

from __future__ import annotations

import time
from typing import Any


class MembershipLease:
    """When this member's membership was last confirmed (`time.monotonic()`), written by the
    consumer's thread (aiokafka's loop), read on Faust's: a float read or written whole."""

    def __init__(self, session_seconds: float) -> None:
        self.session_seconds = session_seconds
        self.confirmed_at: float | None = None
        # How many times the broker forgot the member (`lose`): unchanged across a stall,
        # the member kept its partitions (streams/stall_gate.py).
        self.losses = 0

    def confirm(self, sent_at: float) -> None:
        """A request sent at `sent_at` was answered as a member's."""
        confirmed = self.confirmed_at
        if confirmed is None or sent_at > confirmed:
            self.confirmed_at = sent_at

    def lose(self) -> None:
        """The broker no longer knows this member (its generation was reset)."""
        self.confirmed_at = None
        self.losses += 1

    def held(self, now: float | None = None) -> bool:
        confirmed = self.confirmed_at
        if confirmed is None:
            return False
        return (time.monotonic() if now is None else now) - confirmed < self.session_seconds

    def age(self, now: float | None = None) -> float | None:
        confirmed = self.confirmed_at
        return None if confirmed is None else (now or time.monotonic()) - confirmed


def lease_of(app: Any) -> MembershipLease | None:
    """The lease of the Faust app's group member, None before its consumer has started (or
    in a test without one)."""
    thread = getattr(getattr(app, "consumer", None), "_thread", None)
    client = getattr(thread, "_consumer", None)
    lease = getattr(getattr(client, "_coordinator", None), "lease", None)
    return lease if isinstance(lease, MembershipLease) else None
