"""A request's spec and plan are stored apart from the rest of its record (streams/state_store.py
SPEC_SUFFIX): a command on a request changes its status, offers and deadlines, never what was
asked, so the dispatch agent writes the spec record only when the spec or plan is not the one
stored, and always before the record that needs it. The tables still rebuild the very state
the worker holds; records written whole (before the split) are read as they are; a pruned
request loses both records, and a spec record left without its request is deleted by the
next prune. With the dispatch agent's in-memory stand-ins of tests/unit/test_dispatch_groups.py."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.core import Decision
from dispatcher.core.state import COLD_AFTER_S
from schemas.commands import CancelRequest, SubmitRequest
from schemas.vocab import Party, Skill
from streams.dispatch_agent import DispatchAgent
from streams.state_store import (
    SPEC_SUFFIX,
    WorkerState,
    encode_record,
    encode_request_spec,
    encode_request_status,
)
from tests.unit.conftest import World
from tests.unit.test_dispatch_groups import (
    CountingTable,
    FakeEvent,
    FakeEvents,
    FakeSink,
    PartitionedTable,
    Runtime,
    agent,
    runtime,
)
from tests.unit.test_helper_profile_records import rebuilt

SPEC = SPEC_SUFFIX.encode()


def command(world: World, body: object, offset: int) -> FakeEvent:
    return FakeEvent(offset, world.command(body).model_dump_json().encode())  # type: ignore[arg-type]


async def submitted_then_cancelled(
    tmp_path: Path,
) -> tuple[Runtime, CountingTable, DispatchAgent, FakeSink, World]:
    """A worker's agent that took req-1's submission, then its cancellation; the table's
    writes are the cancellation's."""
    rt = runtime(tmp_path, FakeEvents())
    rt.requests_table = table = CountingTable()
    dispatch, sink = agent(rt)
    world = World()
    world.helper("a", skills=[Skill.DRIVING])
    await dispatch.handle_group([command(world, SubmitRequest(spec=world.spec()), 0)])
    assert [k for k, _ in table.writes] == [b"req-1" + SPEC, b"req-1"]  # the spec first
    table.writes.clear()
    cancel = CancelRequest(request_id="req-1", by=Party.REQUESTER)
    await dispatch.handle_group([command(world, cancel, 1)])
    return rt, table, dispatch, sink, world


async def test_a_request_is_written_with_its_spec_once(tmp_path: Path) -> None:
    rt, table, dispatch, sink, world = await submitted_then_cancelled(tmp_path)
    assert not sink.letters
    assert [k for k, _ in table.writes] == [b"req-1"]  # its status, not what was asked
    assert rt.state.core.requests["req-1"].status == "cancelled"
    # The tables are the state: the request whole, status, spec and plan.
    tables = rebuilt(rt)
    assert dict(tables.core.requests) == dict(rt.state.core.requests)
    request = tables.core.requests["req-1"]
    assert tables.stored_specs[(0, "req-1")] == (request.spec, request.plan)
    assert tables.stored_specs[(0, "req-1")][0] is request.spec
    # A worker rebuilt from them writes no spec either for the request's next command.
    rt.state = tables
    table.writes.clear()
    again = CancelRequest(request_id="req-1", by=Party.STAFF, reason="again")
    await dispatch.handle_group([command(world, again, 2)])
    assert not any(k.endswith(SPEC) for k, _ in table.writes)


async def test_a_request_written_whole_is_read_and_split_at_its_next_write(
    tmp_path: Path,
) -> None:
    """Tables written before the split: each request's record holds its spec and plan."""
    world = World()
    world.helper("a", skills=[Skill.DRIVING])
    world.run(SubmitRequest(spec=world.spec()))
    rt = runtime(tmp_path, FakeEvents())
    rt.requests_table = table = CountingTable()
    for hid, helper in world.state.helpers.items():
        rt.helpers_table[hid.encode()] = encode_record(0, helper)
    dict.__setitem__(table, b"req-1", encode_record(0, world.state.requests["req-1"]))
    rt.state = rebuilt(rt)
    assert rt.state.core.requests["req-1"] == world.state.requests["req-1"]
    assert (0, "req-1") not in rt.state.stored_specs  # no spec record yet
    dispatch, sink = agent(rt)
    cancel = CancelRequest(request_id="req-1", by=Party.REQUESTER)
    await dispatch.handle_group([command(world, cancel, 0)])
    assert not sink.letters
    assert [k for k, _ in table.writes] == [b"req-1" + SPEC, b"req-1"]
    assert dict(rebuilt(rt).core.requests) == dict(rt.state.core.requests)


def test_a_request_without_its_spec_record_is_left_out_and_a_lone_spec_is_noted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.helper("a", skills=[Skill.DRIVING])
    world.run(SubmitRequest(spec=world.spec("r1")))
    world.run(SubmitRequest(spec=world.spec("r2")))
    world.run(SubmitRequest(spec=world.spec("r3")))
    r1, r2, r3 = (world.state.requests[r] for r in ("r1", "r2", "r3"))
    items = [
        (b"r1", encode_request_status(0, r1)),
        (b"r1" + SPEC, encode_request_spec(0, r1)),
        (b"r2", encode_request_status(0, r2)),  # its spec record missing
        (b"r3" + SPEC, encode_request_spec(0, r3)),  # its request deleted
        (b"r4" + SPEC, encode_request_spec(1, r3)),  # another partition's
    ]
    with caplog.at_level(logging.ERROR):
        state = WorkerState.rebuild(items, [], frozenset({0}), 1)
    assert set(state.core.requests) == {"r1"}
    assert state.core.requests["r1"] == r1
    assert "request r2 on partition 0 has no spec record" in caplog.text
    assert state.orphan_specs == [(0, "r3")]


async def test_a_pruned_request_loses_both_records_and_a_lone_spec_goes_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(tmp_path, FakeEvents())
    rt.requests_table = table = PartitionedTable(
        {
            b"r1": (1, b'{"p":1,"r":{}}'),
            b"r1" + SPEC: (1, b'{"p":1,"r":{}}'),
            b"r2": (2, b'{"p":2,"r":{}}'),  # written whole: no spec record
            b"r3" + SPEC: (2, b'{"p":2,"r":{}}'),
        }
    )
    rt.state.orphan_specs = [(2, "r3")]
    rt.state.stored_specs[(1, "r1")] = object()  # type: ignore[assignment]
    monkeypatch.setattr(rt.state.core, "prune", lambda now: ["r1", "r2"])
    dispatch, _ = agent(rt)
    await dispatch.handle_group(
        [command(World(), CancelRequest(request_id="nope", by=Party.STAFF), 0)]
    )
    # Each record deleted on its own partition, a request before its spec.
    assert table.markers == [(b"r1", 1), (b"r1" + SPEC, 1), (b"r2", 2), (b"r3" + SPEC, 2)]
    assert not table.records
    assert rt.state.orphan_specs == [] and rt.state.stored_specs == {}


async def test_a_cooled_request_is_written_with_its_spec_again(tmp_path: Path) -> None:
    """Closed requests are kept as their JSON after a minute (core/held_requests.py): their spec
    objects are let go too, and a late write of one stores its spec again (it is another
    object once read back)."""
    rt, table, dispatch, _, world = await submitted_then_cancelled(tmp_path)
    assert (0, "req-1") in rt.state.stored_specs
    dispatch.last_prune = float("-inf")
    dispatch._maybe_prune(world.now + timedelta(seconds=COLD_AFTER_S + 1))
    assert rt.state.core.requests.cold_count == 1  # type: ignore[attr-defined]
    assert rt.state.stored_specs == {}
    table.writes.clear()
    cold = rt.state.core.requests["req-1"]
    await dispatch._store_all([(FakeEvent(2, b""), 0, Decision(requests={"req-1": cold}))])
    assert [k for k, _ in table.writes] == [b"req-1" + SPEC, b"req-1"]
