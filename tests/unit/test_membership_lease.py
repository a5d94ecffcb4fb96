"""The membership lease (streams/membership_lease.py): the group coordinator's bookkeeping
(streams/group_heartbeat.py) and the dispatch agent applying no command while the membership
is unconfirmed (streams/dispatch_agent.py). On the real broker, with a SIGSTOPped worker:
tests/integration/test_paused_worker_fenced_s33.py."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.consumer.group_coordinator import GroupCoordinator

from streams import group_heartbeat
from streams.group_heartbeat import HeartbeatingGroupCoordinator
from streams.membership_lease import MembershipLease, lease_of
from tests.unit.test_dispatch_groups import FakeEvents, agent, runtime, upserts


def test_the_lease_is_held_for_a_session_from_the_last_confirmation() -> None:
    lease = MembershipLease(10.0)
    assert not lease.held(100.0)  # never confirmed
    lease.confirm(100.0)
    assert lease.held(109.9)
    assert not lease.held(110.0)
    lease.confirm(95.0)  # an older request answered late extends nothing
    assert lease.confirmed_at == 100.0
    lease.confirm(104.0)
    assert lease.held(113.0)
    lease.lose()
    assert not lease.held(104.0)


class Coordinator(HeartbeatingGroupCoordinator):
    """Without upstream's `__init__` (it connects): the lease only."""

    def __init__(self) -> None:
        self.lease = MembershipLease(10.0)
        self._rejoin_sent_at = None


async def test_a_heartbeat_answered_confirms_the_lease_from_when_it_was_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [50.0]
    monkeypatch.setattr(group_heartbeat.time, "monotonic", lambda: clock[0])
    answers = [True, False]

    async def heartbeat(self: Any) -> bool:
        clock[0] += 30.0  # a process stopped while the request was out: the answer is late
        return answers.pop(0)

    monkeypatch.setattr(GroupCoordinator, "_do_heartbeat", heartbeat)
    coordinator = Coordinator()
    assert await coordinator._do_heartbeat()
    assert coordinator.lease.confirmed_at == 50.0  # sent at 50, not answered at 80
    assert not coordinator.lease.held(clock[0])
    assert not await coordinator._do_heartbeat()  # failed: nothing confirmed
    assert coordinator.lease.confirmed_at == 50.0


async def test_an_eviction_loses_the_lease_and_a_join_confirms_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [10.0]
    monkeypatch.setattr(group_heartbeat.time, "monotonic", lambda: clock[0])
    coordinator = Coordinator()
    coordinator.lease.confirm(9.0)
    monkeypatch.setattr(GroupCoordinator, "reset_generation", lambda self: None)
    coordinator.reset_generation()  # "member_id was not recognized"
    assert coordinator.lease.confirmed_at is None

    async def rejoin(self: Any, subscription: Any) -> bool:
        clock[0] += 4.0
        await self._on_join_complete(1, "m", "p", b"")
        return True

    async def join_complete(self: Any, *args: Any) -> None:
        return None

    monkeypatch.setattr(GroupCoordinator, "_do_rejoin_group", rejoin)
    monkeypatch.setattr(GroupCoordinator, "_on_join_complete", join_complete)
    coordinator._session_timeout_ms = 10_000
    coordinator._heartbeat_task = None
    coordinator._start_heartbeat_task = lambda: None  # type: ignore[method-assign]
    assert await coordinator._do_rejoin_group(None)
    assert coordinator.lease.confirmed_at == 10.0  # the join began at 10


class Unacked:
    def __init__(self) -> None:
        self.discarded: list[int] = []

    def discard(self, message: Any) -> None:
        self.discarded.append(message.offset)


def with_lease(rt: Any, lease: MembershipLease) -> Any:
    consumer = SimpleNamespace(
        _committed_offset={},
        _thread=SimpleNamespace(
            _consumer=SimpleNamespace(_coordinator=SimpleNamespace(lease=lease))
        ),
        revoking=False,
        _unacked_messages=Unacked(),
    )
    rt.app.consumer = consumer
    assert lease_of(rt.app) is lease
    return consumer


def member(
    tmp_path: Path, confirmed_at: float, events: FakeEvents | None = None
) -> tuple[Any, MembershipLease, Any, Any, Any]:
    """A runtime whose member's lease was last confirmed at `confirmed_at` (monotonic), its
    `events` topic, consumer, dispatch agent and dead-letter sink."""
    lease = MembershipLease(10.0)
    lease.confirm(confirmed_at)
    events = events if events is not None else FakeEvents()
    rt = runtime(tmp_path, events)
    consumer = with_lease(rt, lease)
    dispatch, sink = agent(rt)
    return rt, lease, consumer, dispatch, sink


async def revoke_soon(consumer: Any) -> None:
    await asyncio.sleep(0.2)
    consumer.revoking = True  # the heartbeat learnt of the eviction: the rejoin revokes


@pytest.mark.parametrize("size", [1, 3])
async def test_commands_are_let_go_unapplied_when_the_revoke_begins_unconfirmed(
    tmp_path: Path, size: int
) -> None:
    # Confirmed long ago: a stop the broker expelled the member for.
    rt, _, consumer, dispatch, sink = member(tmp_path, 0.0)
    revoking = asyncio.create_task(revoke_soon(consumer))
    assert not await dispatch.handle_group(upserts(*"abc"[:size]))  # not to be acknowledged
    await revoking
    assert rt.events.sent == [] and rt.helpers_table == {} and sink.letters == []
    assert consumer._unacked_messages.discarded == list(range(size))  # the revoke goes on
    assert not (tmp_path / "trace" / "trace-unit.jsonl").read_text()


@pytest.mark.parametrize("size", [1, 3])
async def test_commands_wait_until_a_heartbeat_confirms_the_membership(
    tmp_path: Path, size: int
) -> None:
    rt, lease, consumer, dispatch, _ = member(tmp_path, 0.0)

    async def heartbeat() -> None:
        await asyncio.sleep(0.2)
        assert rt.events.sent == []  # held meanwhile
        lease.confirm(asyncio.get_running_loop().time())

    beating = asyncio.create_task(heartbeat())
    assert await dispatch.handle_group(upserts(*"abc"[:size]))
    await beating
    assert len(rt.events.sent) == size and len(rt.helpers_table) == 2 * size
    assert consumer._unacked_messages.discarded == []


async def test_a_confirmed_membership_costs_no_wait(tmp_path: Path) -> None:
    rt, _, _, dispatch, _ = member(tmp_path, asyncio.get_running_loop().time())
    assert await dispatch.handle_group(upserts("a", "b"))
    assert len(rt.events.sent) == 2


@pytest.mark.parametrize("size", [1, 3])
async def test_a_membership_lost_while_the_events_were_out_writes_no_table(
    tmp_path: Path, size: int
) -> None:
    # A worker stopped while its events were out: resumed, its membership is unconfirmed
    # (expelled meanwhile).
    events = FakeEvents()
    rt, lease, consumer, dispatch, sink = member(
        tmp_path, asyncio.get_running_loop().time(), events
    )
    events.on_send = lambda value: lease.lose()
    state = rt.state
    revoking = asyncio.create_task(revoke_soon(consumer))
    assert not await dispatch.handle_group(upserts(*"abc"[:size]))
    await revoking
    # The decisions were applied in memory before their events went out: read again from
    # the tables.
    assert rt.state is not state
    assert rt.state.core.helpers == {}
    # The events are out (their ids come again from the commands' next owner), the tables
    # untouched, nothing acknowledged.
    assert len(events.sent) == size and rt.helpers_table == {} and sink.letters == []
    assert consumer._unacked_messages.discarded == list(range(size))


# The aiokafka 0.14.0 sources the lease relies on: `_do_heartbeat` answers True for a
# heartbeat answered as a member's (a rebalance in progress included) and calls
# `reset_generation` when the broker no longer knows the member; the heartbeat routine keeps
# its last success in a local, so the lease keeps its own. Re-read them before changing a hash.
PINNED = {
    "_do_heartbeat": "dc1d6632aaa68e96",
    "reset_generation": "537aa37c531b4de9",
    "_heartbeat_routine": "61d01028952239d0",
}


def test_the_aiokafka_sources_under_the_lease_are_unchanged() -> None:
    def digest(name: str) -> str:
        source = inspect.getsource(getattr(GroupCoordinator, name))
        return hashlib.sha256(source.encode()).hexdigest()[:16]

    changed = {n: digest(n) for n, pinned in PINNED.items() if digest(n) != pinned}
    assert not changed, f"aiokafka sources changed under the membership lease: {changed}"
