"""The dispatch agent's groups (streams/dispatch_agent.py), with Kafka and Faust replaced by
in-memory stand-ins: a group's events are all sent before any is awaited, each command is
decided on the state the previous ones left, and a failure costs only its own command — an
undecodable one is dead-lettered at once, a decision that cannot be applied in memory is
dead-lettered without its events going out (the state read again from the tables), and when
the group's events cannot all be sent the state goes back to the tables and the commands are
taken one at a time, the failing one then dead-lettered. And the pruning of old requests,
which the agent does after a command: each deleted in its own partition.
On the real broker: tests/integration/test_command_groups.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust import streams as faust_streams
from faust.types import TP as TopicPartition

from dispatcher.clock import SystemClock
from dispatcher.core import Decision
from dispatcher.core.state import DispatchState
from dispatcher.settings import Settings
from schemas.commands import Command, DeactivateHelper, UpsertHelper
from schemas.event_batch import decode_record
from streams import dispatch_agent
from streams.dead_letter import Stage
from streams.dispatch_agent import DispatchAgent
from streams.runtime import WorkerRuntime
from streams.state_store import PROFILE_SUFFIX, WorkerState
from streams.trace import Trace
from tests.support.worker_clock import CommandsTopic
from tests.unit.conftest import World

TP = TopicPartition("commands", 0)


class FakeEvent:  # a Faust event: weak-referenceable, as faust.streams.current_event needs
    def __init__(self, offset: int, value: bytes) -> None:
        self.value = value
        self.message = SimpleNamespace(tp=TP, partition=0, offset=offset)


class FakeEvents:
    """The `events` topic: a send returns the future of the broker's acknowledgement."""

    def __init__(self, fail_with: str | None = None) -> None:
        self.fail_with = fail_with
        # Called with each record's value as it goes out: what a reader sees at that moment.
        self.on_send: Callable[[bytes], object] | None = None
        self.sent: list[bytes] = []
        self.pending: list[asyncio.Future[None]] = []
        self.acked_at_send: list[int] = []  # records acknowledged when each was sent

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        if self.on_send is not None:
            self.on_send(value)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acked_at_send.append(sum(f.done() for f in self.pending))
        self.sent.append(value)
        self.pending.append(fut)
        if self.fail_with is not None and self.fail_with.encode() in value:
            fut.set_exception(RuntimeError("MessageSizeTooLarge"))
        else:
            # Acknowledged only once the loop runs: every send of a group comes first.
            asyncio.get_running_loop().call_soon(fut.set_result, None)
        return fut


@dataclass
class FakeSink:
    letters: list[tuple[int, str, Stage]]

    async def send(self, event: Any, reason: str, stage: Stage, **_: Any) -> None:
        self.letters.append((event.message.offset, reason, stage))


class Runtime(WorkerRuntime):
    async def owns(self, partition: int) -> bool:
        return True

    def state_ready(self) -> bool:
        return True


def runtime(tmp_path: Path, events: FakeEvents) -> Runtime:
    accumulator = SimpleNamespace(
        _batches={}, _waiter_future=asyncio.get_running_loop().create_future()
    )
    producer = SimpleNamespace(
        prompt_topics=frozenset({"events"}),
        _ensure_producer=lambda: SimpleNamespace(_message_accumulator=accumulator),
    )
    app = SimpleNamespace(
        consumer_generation_id=1,
        consumer=SimpleNamespace(_committed_offset={}),
        producer=producer,
    )
    settings = Settings(data_dir=tmp_path, events_topic="events")
    rt = Runtime(
        settings=settings,
        app=app,  # type: ignore[arg-type]
        clock=SystemClock(),
        trace=Trace(tmp_path / "trace", "unit", SystemClock()),
        commands=CommandsTopic(),  # the copies the agent sends (streams/late_commands.py)
        events=events,
        dead_letters=None,
        requests_table={},
        helpers_table={},
    )
    rt.state = WorkerState.rebuild([], [], frozenset({0}), 1)
    return rt


def helper_keys(table: dict[bytes, bytes]) -> set[bytes]:
    """The helpers a table holds (each also has a profile record: PROFILE_SUFFIX)."""
    profiles = {k for k in table if k.endswith(PROFILE_SUFFIX.encode())}
    assert profiles == {k + PROFILE_SUFFIX.encode() for k in table.keys() - profiles}
    return set(table.keys() - profiles)


def upserts(*helper_ids: str) -> list[FakeEvent]:
    world = World()
    out = []
    for offset, hid in enumerate(helper_ids):
        profile = world.helper(hid)
        command = world.command(UpsertHelper(profile=profile))
        out.append(FakeEvent(offset, command.model_dump_json().encode()))
    return out


def agent(rt: Runtime) -> tuple[DispatchAgent, FakeSink]:
    sink = FakeSink([])
    return DispatchAgent(rt, sink), sink  # type: ignore[arg-type]


async def take(dispatch: DispatchAgent, records: list[FakeEvent]) -> int:
    """`records` handled as one group, then the copies it sent (a request's submit is
    decided from its copy: streams/late_commands.py) read at the next offsets, as one group:
    the offset after them."""
    await dispatch.handle_group(records)
    offset = records[-1].message.offset + 1
    copies = dispatch.rt.commands.taken()
    if copies:
        await dispatch.handle_group(
            [FakeEvent(offset + i, c.model_dump_json().encode()) for i, c in enumerate(copies)]
        )
    return offset + len(copies)


async def test_a_group_is_decided_in_order_sent_at_once_then_stored(tmp_path: Path) -> None:
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    await dispatch.handle_group(upserts("a", "b", "c"))
    assert len(events.sent) == 3  # one record per decision
    assert events.acked_at_send == [0, 0, 0]  # all sent before the group awaits any
    assert not sink.letters
    assert set(rt.state.core.helpers) == {"a", "b", "c"}
    assert helper_keys(rt.helpers_table) == {b"a", b"b", b"c"}
    assert trace_offsets(tmp_path) == [0, 1, 2]
    assert rt.app.producer.prompt_topics == {"events"}  # restored after the group
    assert rt.stats.command_groups == {3: 1}


@pytest.mark.parametrize("size", [1, 3])
async def test_a_decision_is_in_the_state_before_its_events_go_out(
    tmp_path: Path, size: int
) -> None:
    # A lone command applied its decision only after its table writes: a record read back
    # meanwhile (the notify agent plans its pushes from this state, and can read it before
    # Kafka's acknowledgement is back here) was planned without it.
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    seen: list[set[str]] = []  # the helpers the state holds as each record goes out
    events.on_send = lambda value: seen.append(set(rt.state.core.helpers))
    dispatch, sink = agent(rt)
    helpers = "abc"[:size]
    await dispatch.handle_group(upserts(*helpers))
    assert len(seen) == size and not sink.letters
    assert all(hid in held for hid, held in zip(helpers, seen, strict=True))
    assert set(rt.state.core.helpers) == set(helpers)
    assert_state_is_the_tables(rt)


async def test_each_command_of_a_group_is_decided_on_the_state_the_previous_left(
    tmp_path: Path,
) -> None:
    rt = runtime(tmp_path, FakeEvents())
    dispatch, sink = agent(rt)
    group = upserts("a")
    world = World()
    deactivate = world.command(DeactivateHelper(helper_id="a"))
    group.append(FakeEvent(1, deactivate.model_dump_json().encode()))
    await dispatch.handle_group(group)
    # Decided on the state before the group, the deactivation would find no helper "a".
    assert not rt.state.core.helpers["a"].profile.active
    assert not sink.letters


async def test_an_undecodable_command_in_a_group_is_dead_lettered_alone(tmp_path: Path) -> None:
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    group = upserts("a", "b", "c")
    group.insert(1, FakeEvent(1, b"not a command"))
    for offset, event in enumerate(group):
        event.message.offset = offset
    await dispatch.handle_group(group)
    assert [(o, stage) for o, _, stage in sink.letters] == [(1, "decode")]
    assert set(rt.state.core.helpers) == {"a", "b", "c"}
    assert helper_keys(rt.helpers_table) == {b"a", b"b", b"c"}


async def test_a_group_not_emitted_is_taken_again_one_command_at_a_time(tmp_path: Path) -> None:
    events = FakeEvents(fail_with='"helper_id":"b"')
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    before = rt.state
    group = upserts("a", "b", "c")
    group.append(FakeEvent(3, b"not a command"))
    await dispatch.handle_group(group)
    # The failing command alone is dead-lettered; its decision is neither stored nor applied.
    assert [(o, stage) for o, _, stage in sink.letters] == [(3, "decode"), (1, "process")]
    assert rt.state is not before  # read again from the tables, then a and c applied
    assert set(rt.state.core.helpers) == {"a", "c"}
    assert helper_keys(rt.helpers_table) == {b"a", b"c"}
    # Every command traced once, in offset order (the crash tests read the trace so).
    assert trace_offsets(tmp_path) == [0, 1, 2, 3]


def apply_failing_for(monkeypatch: pytest.MonkeyPatch, helper_id: str) -> None:
    """`apply` raising for `helper_id`'s upsert after changing part of the state."""
    real = dispatch_agent.apply_decision

    def apply(core: DispatchState, decision: Decision) -> None:
        helper = decision.helpers.get(helper_id)
        if helper is None:
            real(core, decision)
            return
        core.helpers[helper_id] = helper  # half-applied: the index not yet
        raise KeyError("index")

    monkeypatch.setattr(dispatch_agent, "apply_decision", apply)


def assert_state_is_the_tables(rt: Runtime) -> None:
    tables = WorkerState.rebuild(
        rt.requests_table.items(), rt.helpers_table.items(), frozenset({0}), 1
    )
    assert set(rt.state.core.helpers) == set(tables.core.helpers)
    assert set(rt.state.core.index.entries) == set(tables.core.index.entries)
    assert set(rt.state.core.requests) == set(tables.core.requests)


async def test_a_decision_of_a_group_not_applied_is_dead_lettered_never_emitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_failing_for(monkeypatch, "b")
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    await dispatch.handle_group(upserts("a", "b", "c"))
    assert sink.letters == [(1, "KeyError: 'index'", "process")]
    assert not any(b'"helper_id":"b"' in value for value in events.sent)
    assert helper_keys(rt.helpers_table) == {b"a", b"c"}
    assert_state_is_the_tables(rt)
    assert set(rt.state.core.index.entries) == {"a", "c"}
    assert trace_offsets(tmp_path) == [0, 1, 2]


async def test_a_decision_stored_but_not_applied_has_the_state_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_failing_for(monkeypatch, "b")
    rt = runtime(tmp_path, FakeEvents())
    dispatch, sink = agent(rt)
    for event in upserts("a", "b", "c"):
        await dispatch.handle_group([event])
    # b's events are out and its records stored: processed, not dead-lettered.
    assert not sink.letters
    assert helper_keys(rt.helpers_table) == {b"a", b"b", b"c"}
    assert_state_is_the_tables(rt)
    assert set(rt.state.core.index.entries) == {"a", "b", "c"}


@pytest.mark.parametrize("grouped", [True, False])
async def test_a_failure_reason_names_the_exception_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grouped: bool
) -> None:
    real = dispatch_agent.decide

    def decide(core: DispatchState, command: Command, now: datetime) -> Decision:
        if isinstance(command.body, UpsertHelper) and command.body.profile.helper_id == "b":
            raise ValueError("no helper")
        return real(core, command, now)

    monkeypatch.setattr(dispatch_agent, "decide", decide)
    rt = runtime(tmp_path, FakeEvents())
    dispatch, sink = agent(rt)
    group = upserts("a", "b", "c")
    for events in [group] if grouped else [[e] for e in group]:
        await dispatch.handle_group(events)
    assert sink.letters == [(1, "ValueError: no helper", "process")]
    assert helper_keys(rt.helpers_table) == {b"a", b"c"}


class PartitionedTable:
    """A requests table as Faust's RocksDB store keeps it: one store per partition, a key
    looked up in the current event's partition when there is one (in all of them when not),
    and a deletion marker written to the current event's changelog partition
    (faust.tables.base.Collection.partition_for_key)."""

    def __init__(self, records: dict[bytes, tuple[int, bytes]]) -> None:
        self.records = records
        self.markers: list[tuple[bytes, int]] = []

    def _partition(self) -> int | None:
        event = faust_streams.current_event()
        return None if event is None else event.message.partition

    def get(self, key: bytes, default: Any = None) -> Any:
        found = self.records.get(key)
        if found is None or self._partition() not in (None, found[0]):
            return default
        return found[1]

    def pop(self, key: bytes, default: Any = None) -> Any:
        value = self.get(key)
        if value is None:
            return default
        partition = self._partition()
        assert partition is not None  # Faust: "Cannot modify table key from outside..."
        self.markers.append((key, partition))
        del self.records[key]
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        partition = self._partition()
        assert partition is not None
        self.records[key] = (partition, value)


@pytest.mark.parametrize("size", [1, 2])
async def test_a_pruned_request_is_deleted_on_its_own_changelog_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    rt = runtime(tmp_path, FakeEvents())
    rt.requests_table = table = PartitionedTable(
        {b"r1": (1, b'{"p":1,"r":{}}'), b"r2": (2, b'{"p":2,"r":{}}')}
    )
    monkeypatch.setattr(rt.state.core, "prune", lambda now: ["r1", "r2"])
    dispatch, _ = agent(rt)
    group = upserts("a", "b")[:size]  # records of partition 0
    await dispatch.handle_group(group)
    assert table.markers == [(b"r1", 1), (b"r2", 2)]
    assert not table.records
    assert faust_streams.current_event() is group[-1]  # restored


def trace_offsets(tmp_path: Path) -> list[int]:
    lines = (tmp_path / "trace" / "trace-unit.jsonl").read_text().splitlines()
    return [json.loads(line)["o"] for line in lines if json.loads(line)["k"] == "cmd"]


@pytest.fixture(autouse=True)
def _no_offset_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    def violation(self: DispatchAgent, what: str) -> None:
        raise AssertionError(f"offset check: {what}")

    monkeypatch.setattr(DispatchAgent, "_offset_violation", violation)


class CountingTable(dict[bytes, bytes]):
    """A table that notes each write and the Faust event it was written under (the event
    whose partition's changelog takes it)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[bytes, int]] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append((key, faust_streams.current_event().message.offset))  # type: ignore[union-attr]
        super().__setitem__(key, value)


async def test_a_record_changed_by_several_commands_of_a_group_is_written_once(
    tmp_path: Path,
) -> None:
    rt = runtime(tmp_path, FakeEvents())
    rt.helpers_table = CountingTable()
    dispatch, sink = agent(rt)
    a, b, c = upserts("a", "b", "c")
    world = World()
    off_a, off_b = (
        FakeEvent(0, world.command(DeactivateHelper(helper_id=h)).model_dump_json().encode())
        for h in ("a", "b")
    )
    group = [a, b, off_a, c, off_b]
    for offset, event in enumerate(group):
        event.message.offset = offset
    await dispatch.handle_group(group)
    assert not sink.letters
    # Each helper once, under the last command that changed it, holding what that left.
    # (and its profile, which every command of the group changed, with it)
    profile = PROFILE_SUFFIX.encode()
    assert sorted(rt.helpers_table.writes) == [
        (b"a", 2),
        (b"a" + profile, 2),
        (b"b", 4),
        (b"b" + profile, 4),
        (b"c", 3),
        (b"c" + profile, 3),
    ]
    assert rt.stats.table_writes == 6
    assert_state_is_the_tables(rt)
    tables = WorkerState.rebuild([], rt.helpers_table.items(), frozenset({0}), 1)
    assert tables.core.helpers == rt.state.core.helpers
    assert not tables.core.helpers["a"].profile.active and tables.core.helpers["c"].profile.active


class Handed:
    """`rt.emitted`: the events handed over for early pushes, with what held when they were."""

    def __init__(self, rt: Runtime, events: FakeEvents) -> None:
        self.rt, self.events = rt, events
        self.calls: list[list[str]] = []
        self.partitions: set[int] = set()  # each event's, as handed over
        self.all_acked: list[bool] = []
        self.helpers_known: list[set[str]] = []

    def __call__(self, handed: Any) -> None:
        self.calls.append([e.event_id for _, e in handed])
        self.partitions.update(p for p, _ in handed)
        self.all_acked.append(all(f.done() and not f.exception() for f in self.events.pending))
        self.helpers_known.append(set(self.rt.state.core.helpers))


async def handed_over(tmp_path: Path, events: FakeEvents, *helper_ids: str) -> Handed:
    """What the agent handed over while it took one group of `helper_ids`' upserts."""
    rt = runtime(tmp_path, events)
    rt.emitted = handed = Handed(rt, events)
    dispatch, _ = agent(rt)
    await dispatch.handle_group(upserts(*helper_ids))
    return handed


def sent_event_ids(events: FakeEvents) -> list[str]:
    return [e.event_id for value in events.sent for e in decode_record(value).events]


async def test_a_groups_events_are_handed_over_once_acknowledged_in_the_order_sent(
    tmp_path: Path,
) -> None:
    events = FakeEvents()
    handed = await handed_over(tmp_path, events, "a", "b", "c")
    assert handed.calls == [sent_event_ids(events)] and len(handed.calls[0]) >= 3
    assert handed.partitions == {0}  # the commands' partition (`FakeEvent`)
    assert handed.all_acked == [True]
    assert handed.helpers_known == [{"a", "b", "c"}]  # the group's decisions applied


async def test_a_lone_command_hands_its_events_over_after_they_are_acknowledged_and_applied(
    tmp_path: Path,
) -> None:
    events = FakeEvents()
    handed = await handed_over(tmp_path, events, "a")
    assert handed.calls == [sent_event_ids(events)] and handed.calls[0]
    assert handed.all_acked == [True] and handed.helpers_known == [{"a"}]


async def test_a_group_not_emitted_hands_over_only_what_went_out_one_at_a_time(
    tmp_path: Path,
) -> None:
    events = FakeEvents(fail_with='"helper_id":"b"')
    handed = await handed_over(tmp_path, events, "a", "b", "c")
    # Nothing of the failed group; then a and c, each once its own record was acknowledged.
    ids = [[e.event_id for e in decode_record(value).events] for value in events.sent]
    assert len(ids) == 6  # the group's a, b, c, then each again alone
    assert handed.calls == [ids[3], ids[5]] and (ids[3], ids[5]) == (ids[0], ids[2])
