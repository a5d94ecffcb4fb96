"""streams/group_heartbeat.py: the member heartbeats from the moment it has joined, through the
partition-assignment callback. Pure: fakes stand in for the coordinator's other parts."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from pathlib import Path
from typing import Any

import aiokafka.consumer.consumer as aiokafka_consumer
import pytest
from aiokafka.consumer.group_coordinator import GroupCoordinator

from dispatcher.settings import Settings
from streams.app import create_faust_app
from streams.group_heartbeat import HeartbeatingGroupCoordinator

# The aiokafka 0.14.0 sources the fix relies on: the rejoin stops the heartbeat task and starts
# it again only after `_do_rejoin_group` returned, i.e. after `_on_join_complete` ran the
# assignment callback. If an upgrade changes one, re-read it and re-check the fix (perhaps
# upstream heartbeats through the callback by then) before changing its hash.
PINNED = {
    "ensure_active_group": "33c84c1a93012e81",
    "_do_rejoin_group": "3cb016c98a087a71",
    "_on_join_complete": "0b0b3d204b408f3c",
    "_start_heartbeat_task": "358d0cfad997f2e6",
    "_stop_heartbeat_task": "b3022a920670abc0",
}


def source_hash(name: str) -> str:
    source = inspect.getsource(getattr(GroupCoordinator, name))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def test_overridden_aiokafka_sources_are_unchanged() -> None:
    changed = {n: source_hash(n) for n, digest in PINNED.items() if source_hash(n) != digest}
    assert not changed, f"aiokafka sources changed under the heartbeat fix: {changed}"


class Joined(HeartbeatingGroupCoordinator):
    """A coordinator without its client, subscription and tasks (upstream's `__init__`
    connects): only the heartbeat task's slot; the callback records whether it was set."""

    def __init__(self, session_timeout_ms: int = 10_000) -> None:
        self._heartbeat_task: Any = None
        self._session_timeout_ms = session_timeout_ms
        self.heartbeating_in_callback: bool | None = None

    def _start_heartbeat_task(self) -> None:
        if self._heartbeat_task is None:
            self._heartbeat_task = "running"


async def test_heartbeats_run_before_and_during_the_assignment_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = Joined()

    async def upstream(self: Joined, *args: Any) -> None:  # stands for the callback's run
        self.heartbeating_in_callback = self._heartbeat_task is not None

    monkeypatch.setattr(GroupCoordinator, "_on_join_complete", upstream)
    await coordinator._on_join_complete(9, "m", "faust", b"")
    assert coordinator.heartbeating_in_callback is True


async def test_a_hung_callback_stops_heartbeating_so_the_group_moves_its_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = Joined(session_timeout_ms=10)  # the limit: 6 sessions, 60 ms
    heartbeat = asyncio.create_task(asyncio.sleep(3600))
    hung = asyncio.Event()

    async def upstream(self: Joined, *args: Any) -> None:  # a callback hung for 0.3 s
        self._heartbeat_task = heartbeat
        await asyncio.sleep(0.3)
        hung.set()

    monkeypatch.setattr(GroupCoordinator, "_on_join_complete", upstream)
    await coordinator._on_join_complete(9, "m", "faust", b"")
    assert hung.is_set()
    assert heartbeat.cancelled()  # the broker then evicts the member after one session
    assert coordinator._heartbeat_task is None  # upstream starts a fresh task after the callback


async def test_a_callback_within_the_limit_keeps_its_heartbeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = Joined(session_timeout_ms=100)  # the limit: 600 ms
    heartbeat = asyncio.create_task(asyncio.sleep(3600))

    async def upstream(self: Joined, *args: Any) -> None:  # 1.5 sessions: slow, not hung
        self._heartbeat_task = heartbeat
        await asyncio.sleep(0.15)

    monkeypatch.setattr(GroupCoordinator, "_on_join_complete", upstream)
    await coordinator._on_join_complete(9, "m", "faust", b"")
    await asyncio.sleep(0.6)  # past the limit: the watchdog was cancelled with the callback
    assert not heartbeat.done() and coordinator._heartbeat_task is heartbeat
    heartbeat.cancel()


async def test_upstream_does_not_heartbeat_during_the_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bug itself, as the pinned sources have it: `ensure_active_group` stops the task,
    `_do_rejoin_group` runs the callback, and only then is the task started again."""
    source = inspect.getsource(GroupCoordinator.ensure_active_group)
    stop = source.index("await self._stop_heartbeat_task()")
    rejoin = source.index("await self._do_rejoin_group(subscription)")
    start = source.index("self._start_heartbeat_task()")
    assert stop < rejoin < start
    assert "_on_join_complete" in inspect.getsource(GroupCoordinator._do_rejoin_group)


def test_the_worker_app_installs_it(tmp_path: Path) -> None:
    create_faust_app(Settings(data_dir=tmp_path), "heartbeat")
    assert aiokafka_consumer.GroupCoordinator is HeartbeatingGroupCoordinator
