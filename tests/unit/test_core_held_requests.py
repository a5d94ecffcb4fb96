"""Closed requests held as their JSON (dispatcher/core/held_requests.py): read back they are
the same records, a late command on one decides as before, and they leave the objects the
garbage collector walks."""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest

from dispatcher.core.held_requests import HeldRequests
from dispatcher.core.state import COLD_AFTER_S, KEEP_TERMINAL_S, DispatchState
from schemas.commands import AcceptOffer, CancelRequest, CompleteAssignment, ResolveRequest
from schemas.records import RequestState
from schemas.vocab import Party
from tests.unit.conftest import World, simulated_week
from tests.unit.exact_models import exact


def _closed_world() -> World:
    """req-1 resolved with an assignment; req-2 cancelled; req-3 open."""
    world = World()
    for i in range(6):
        world.helper(f"driver-{i}", skills=["driving"])
    world.submit("req-1")
    world.accept(world.offered()[0], "req-1")
    world.run(ResolveRequest(request_id="req-1", by=Party.STAFF))
    world.submit("req-2")
    world.run(CancelRequest(request_id="req-2", by=Party.STAFF))
    world.submit("req-3")
    return world


def test_every_closed_request_of_a_simulated_week_reads_back_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decisions = simulated_week(monkeypatch, seed=5)
    latest: dict[str, RequestState] = {}
    for d in decisions:
        latest.update(d.requests)
    closed = {rid: r for rid, r in latest.items() if r.terminal and r.next_deadline is None}
    assert len(closed) > 20
    held = HeldRequests(latest)
    last = max(r.closed_at for r in closed.values() if r.closed_at is not None)
    assert held.cool(last) == len(closed)
    assert held.cold_count == len(closed) and len(held) == len(latest)
    assert sorted(held) == sorted(latest)
    for rid, r in latest.items():
        assert rid in held
        exact(held[rid], r, rid)
    assert {r.request_id for r in held.live()} == set(latest) - set(closed)


def test_only_requests_closed_before_the_cutoff_cool() -> None:
    world = _closed_world()
    requests = world.state.requests
    assert isinstance(requests, HeldRequests)
    world.now += timedelta(seconds=COLD_AFTER_S - 1)
    world.state.prune(world.now)
    assert requests.cold_count == 0  # closed less than a minute ago
    world.now += timedelta(seconds=2)
    assert world.state.prune(world.now) == []
    assert requests.cold_count == 2 and "req-3" in {r.request_id for r in requests.live()}
    # The timer's deadlines come from the live ones: none of a closed request is lost.
    assert {d.request_id for d in world.state.deadlines()} == {"req-3"}


def test_a_late_command_on_a_cold_request_decides_as_on_a_live_one() -> None:
    live, cold = _closed_world(), _closed_world()
    for w in (live, cold):
        w.now += timedelta(seconds=COLD_AFTER_S + 1)
    cold.state.prune(cold.now)
    assert cold.state.requests.cold_count == 2
    helper = next(a.helper_id for a in live.request("req-1").assignments)
    late_helper = live.request("req-2").offers[0].helper_id
    late = [
        CompleteAssignment(request_id="req-1", helper_id=helper, minutes=30),
        # A late "I'll go" on the cancelled request: refused, the request named as closed.
        AcceptOffer(
            request_id="req-2",
            offer_id=live.offer_id(late_helper, "req-2"),
            helper_id=late_helper,
        ),
    ]
    for i, body in enumerate(late):
        a, b = live.run(body, f"late-{i}"), cold.run(body, f"late-{i}")
        assert a.events and a.events == b.events
        assert a.requests == b.requests and a.helpers == b.helpers
    assert cold.request("req-1").assignments[0].minutes == 30
    # Changed by the late command: held live again, and cooled again by the next pass.
    assert "req-1" in {r.request_id for r in cold.state.requests.live()}


def test_closed_requests_are_dropped_after_a_day_live_or_cold() -> None:
    world = _closed_world()
    world.now += timedelta(seconds=COLD_AFTER_S + 1)
    world.state.prune(world.now)
    world.now += timedelta(seconds=KEEP_TERMINAL_S)
    assert sorted(world.state.prune(world.now)) == ["req-1", "req-2"]
    assert sorted(world.state.requests) == ["req-3"] and world.state.requests.cold_count == 0
    with pytest.raises(KeyError):
        world.state.requests["req-1"]
    with pytest.raises(KeyError):
        del world.state.requests["req-2"]


def test_a_cold_request_is_nothing_for_the_collector_to_walk() -> None:
    world = _closed_world()
    world.now += timedelta(seconds=COLD_AFTER_S + 1)

    def tracked() -> int:
        gc.collect()
        return len(gc.get_objects())

    before = tracked()
    world.state.prune(world.now)
    after = tracked()
    assert before - after >= 2 * 10  # each closed request was ~25 objects as a model


def test_the_state_compares_and_rebuilds_as_a_mapping() -> None:
    world = _closed_world()
    world.now += timedelta(seconds=COLD_AFTER_S + 1)
    world.state.prune(world.now)
    as_dict = dict(world.state.requests)
    assert world.state.requests == as_dict and len(as_dict) == 3
    rebuilt = DispatchState.rebuild(world.state.helpers.values(), as_dict.values())
    assert rebuilt.requests == world.state.requests
