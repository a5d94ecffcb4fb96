"""Pushes held after a stall long enough to be expelled (streams/stall_gate.py, session 35).

A worker resumed after a stop longer than the session timeout had been expelled and its
partitions served by another member, but its push lanes went on sending their queue until
its rejoin's assignment withdrew it: the new owner's pushes twice. A broker outage (the
loop running, heartbeats failing) must not stop the pushes; a stall that the broker did not
notice must stop them only until a heartbeat confirms it."""

from __future__ import annotations

import asyncio

import httpx

from dispatcher.push import Deliverer
from streams.dead_letter import DeadLetterSink
from streams.membership_lease import MembershipLease
from streams.notify import NotifyAgent
from streams.runtime import Stats
from streams.stall_gate import StallGate, threshold_for
from tests.unit.test_push_engine import Harness, Outcomes, delivery, make
from tests.unit.test_worker_notify import (
    FakeClock,
    FaustEvent,
    Topic,
    offer_to,
    withdrawing_notifier,
)

SESSION = 10.0


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def gate_with_lease() -> tuple[StallGate, MembershipLease, Clock]:
    clock = Clock()
    lease = MembershipLease(SESSION)
    lease.confirm(clock.t)
    return StallGate(threshold_for(SESSION, 2.0), lambda: lease, clock), lease, clock


def test_the_threshold_is_the_session_less_a_heartbeat() -> None:
    assert threshold_for(10.0, 2.0) == 8.0
    assert threshold_for(6.0, 6.0) == 1.0  # never zero: every tick would be a stall


def test_a_running_loop_never_holds_even_with_the_lease_expired() -> None:
    """A broker outage: heartbeats fail, the lease grows old, the loop ticks on."""
    gate, lease, clock = gate_with_lease()
    for _ in range(100):  # 50 s of ticks, no heartbeat answered
        clock.t += 0.5
        gate.tick()
        assert not gate.holding()
    assert not lease.held(clock.t) and gate.stalls == 0


def test_a_stall_holds_until_a_heartbeat_sent_after_it_confirms_the_same_member() -> None:
    gate, lease, clock = gate_with_lease()
    clock.t += 20.0  # stopped for 20 s; the lanes look before the tick runs
    assert gate.holding()
    lease.confirm(clock.t - 1.0)  # a heartbeat sent before the stall was seen: not proof
    assert gate.holding()
    clock.t += 2.0
    gate.tick()
    lease.confirm(clock.t)  # answered as a member's: nobody took the partitions
    assert not gate.holding() and gate.stalls == 1 and gate.longest == 20.0


def test_an_expelled_member_holds_until_its_next_assignment() -> None:
    gate, lease, clock = gate_with_lease()
    clock.t += 15.0
    gate.tick()  # the tick sees it first this time
    assert gate.holding()
    lease.lose()  # the heartbeat's answer: member unknown
    clock.t += 0.5
    lease.confirm(clock.t)  # the rejoin succeeded: confirmed, but it was forgotten
    assert gate.holding()
    gate.assigned()  # the assignment's withdrawal ran
    assert not gate.holding()


def test_a_short_stall_holds_nothing() -> None:
    gate, _, clock = gate_with_lease()
    clock.t += 7.9
    assert not gate.holding()
    gate.tick()
    assert gate.stalls == 0


async def test_a_held_lane_sends_nothing_until_the_hold_ends() -> None:
    held = True
    outcomes = Outcomes()

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    harness = Harness(answer)
    d: Deliverer = make(harness, outcomes)
    d.hold = lambda: held
    try:
        for i in range(3):
            await d.submit(delivery(i))
        await asyncio.sleep(0.3)  # three looks of the held lane
        assert harness.sent == [] and d.pending == 3
        held = False
        assert await d.drain(timeout=5)
        assert sorted(i for i, _ in outcomes.delivered) == ["d-0", "d-1", "d-2"]
    finally:
        await d.aclose()
        await d._test_client.aclose()  # type: ignore[attr-defined]


async def test_after_missed_generations_every_queued_push_is_withdrawn() -> None:
    """Expelled, the worker rejoins with generations missed: any partition it gets back may
    have been served meanwhile (their records are read again from the committed offsets);
    before, the queue of a partition it got back was sent as it stood."""
    world, n, deliverer = withdrawing_notifier()
    agent = NotifyAgent(n, DeadLetterSink(Topic(), Stats(), FakeClock()))  # type: ignore[arg-type]
    agent.on_assigned(frozenset({3, 5}), 4)
    await n.handle(FaustEvent(), offer_to(world, "private-driver"), 3)
    await n.handle(FaustEvent(), offer_to(world, "second-driver"), 5)
    agent.on_assigned(frozenset({3, 5}), 5)  # the next generation: both kept, nothing withdrawn
    assert deliverer.withdrawn == set() and len(n._pending) == 2
    agent.on_assigned(frozenset({3, 5}), 8)  # generations 6 and 7 went by without it
    assert len(deliverer.withdrawn) == 2 and not n._pending


async def test_the_next_assignment_ends_the_hold() -> None:
    _, n, _ = withdrawing_notifier()
    agent = NotifyAgent(n, DeadLetterSink(Topic(), Stats(), FakeClock()))  # type: ignore[arg-type]
    gate, lease, clock = gate_with_lease()
    agent.stall = gate
    clock.t += 30.0
    lease.lose()
    assert gate.holding()
    agent.on_assigned(frozenset({3}), 9)
    assert not gate.holding()
