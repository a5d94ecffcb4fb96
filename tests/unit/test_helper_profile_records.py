"""A helper's profile is stored apart from the rest of its record (streams/state_store.py
PROFILE_SUFFIX): an offer changes a helper's counters, not its profile, so the dispatch agent
writes the profile only when it changed since it was stored, and always before the record
that needs it. The tables still rebuild the very state the worker holds; records written whole
(before the split) are read as they are, and their profile is stored apart with their next
write. With the dispatch agent's in-memory stand-ins of tests/unit/test_dispatch_groups.py."""

from __future__ import annotations

import json
import logging
from datetime import time
from pathlib import Path

import pytest

from schemas.commands import SubmitRequest, UpsertHelper
from schemas.vocab import Skill
from streams.state_store import (
    PROFILE_SUFFIX,
    WorkerState,
    encode_helper_status,
    encode_profile,
    encode_record,
)
from tests.unit.conftest import World, window
from tests.unit.test_dispatch_groups import (
    CountingTable,
    FakeEvent,
    FakeEvents,
    agent,
    runtime,
    take,
)

PROFILE = PROFILE_SUFFIX.encode()


def rebuilt(rt: object) -> WorkerState:
    return WorkerState.rebuild(
        rt.requests_table.items(),  # type: ignore[attr-defined]
        rt.helpers_table.items(),  # type: ignore[attr-defined]
        frozenset({0}),
        2,
    )


async def test_an_offered_helper_is_written_without_its_profile(tmp_path: Path) -> None:
    rt = runtime(tmp_path, FakeEvents())
    rt.helpers_table = table = CountingTable()
    dispatch, sink = agent(rt)
    world = World()
    drivers = [world.helper(h, skills=[Skill.DRIVING]) for h in ("a", "b", "c")]
    for offset, profile in enumerate(drivers):
        command = world.command(UpsertHelper(profile=profile))
        await dispatch.handle_group([FakeEvent(offset, command.model_dump_json().encode())])
    assert sorted(k for k, _ in table.writes) == sorted(
        [b"a", b"a" + PROFILE, b"b", b"b" + PROFILE, b"c", b"c" + PROFILE]
    )
    table.writes.clear()
    submit = world.command(SubmitRequest(spec=world.spec()))
    offset = await take(dispatch, [FakeEvent(3, submit.model_dump_json().encode())])
    assert not sink.letters
    offered = {k for k, _ in table.writes}
    assert offered and offered <= {b"a", b"b", b"c"}  # their counters, not their profiles
    assert rt.stats.table_writes == 6 + len(offered) + 1  # and the request
    # The tables are the state: every helper whole, counters and profile.
    tables = rebuilt(rt)
    assert tables.core.helpers == rt.state.core.helpers
    for hid, helper in tables.core.helpers.items():
        assert tables.stored_profiles[(0, hid)] is helper.profile
    # A worker rebuilt from them writes no profile either for its next offers.
    rt.state = tables
    table.writes.clear()
    again = world.command(SubmitRequest(spec=world.spec("req-2")))
    await take(dispatch, [FakeEvent(offset, again.model_dump_json().encode())])
    assert table.writes and not any(k.endswith(PROFILE) for k, _ in table.writes)


async def test_a_record_written_whole_is_read_and_split_at_its_next_write(
    tmp_path: Path,
) -> None:
    """Tables written before the split: each helper's record holds its profile."""
    world = World()
    profile = world.helper("a", skills=[Skill.DRIVING])
    whole = encode_record(0, world.state.helpers["a"])
    rt = runtime(tmp_path, FakeEvents())
    rt.helpers_table = table = CountingTable()
    dict.__setitem__(table, b"a", whole)
    rt.state = rebuilt(rt)
    assert rt.state.core.helpers["a"].profile == profile
    assert (0, "a") not in rt.state.stored_profiles  # no profile record yet
    dispatch, sink = agent(rt)
    submit = world.command(SubmitRequest(spec=world.spec()))
    await take(dispatch, [FakeEvent(0, submit.model_dump_json().encode())])
    assert not sink.letters
    assert [k for k, _ in table.writes] == [b"a" + PROFILE, b"a"]  # the profile first
    assert rebuilt(rt).core.helpers == rt.state.core.helpers


def test_a_helper_without_its_profile_record_is_left_out_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.helper("a")
    world.helper("b")
    a, b = world.state.helpers["a"], world.state.helpers["b"]
    items = [
        (b"a", encode_helper_status(0, a)),
        (b"a" + PROFILE, encode_profile(0, a.profile)),
        (b"b", encode_helper_status(0, b)),  # its profile record missing
    ]
    with caplog.at_level(logging.ERROR):
        state = WorkerState.rebuild([], items, frozenset({0}), 1)
    assert set(state.core.helpers) == {"a"}
    assert state.core.helpers["a"] == a
    assert "helper b on partition 0 has no profile record" in caplog.text


def test_a_stored_profile_with_an_offset_time_is_rebuilt_as_its_clock_time() -> None:
    """Quiet hours with a UTC offset ("00:00+14:00"), as an older release let a helper page
    store: the schema refuses them now, but the tables' copy must not stop the rebuild (a
    failed rebuild dead-letters every command the worker gets)."""
    world = World()
    world.helper("a", skills=[Skill.DRIVING], dnd=window("22:00", "07:00"))
    table = CountingTable()
    dict.__setitem__(table, b"a", encode_helper_status(0, world.state.helpers["a"]))
    stored = world.state.helpers["a"].profile.model_dump(mode="json")
    stored["do_not_disturb"] = {"start": "00:00:00+14:00", "end": "23:59:00"}
    dict.__setitem__(table, b"a" + PROFILE, b'{"p":0,"r":%b}' % json.dumps(stored).encode())
    state = WorkerState.rebuild({}.items(), table.items(), frozenset({0}), 2)
    dnd = state.core.helpers["a"].profile.do_not_disturb
    assert dnd is not None and (dnd.start, dnd.end) == (time(0, 0), time(23, 59))
