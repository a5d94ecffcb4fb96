"""The core merges a bot's report into an open request of the same incident (same merge key,
within the window), as the API's intake statement does: the API may send the report's
command before that statement has answered (`api/command_queue.py`)."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.core import DispatchState
from dispatcher.core.merging import MERGE_WINDOW_S, MERGED_INTO
from schemas.commands import CancelRequest, SubmitRequest
from schemas.records import RequestStatus
from schemas.vocab import Party, Skill
from tests.unit.conftest import REFERENCE_PLANS

KEY = "c1|compound|3|hospital_transport"


def _drivers(world, n: int = 4) -> None:
    for i in range(n):
        world.helper(f"driver-{i}", skills=[Skill.DRIVING])


def _report(world, request_id: str, key: str | None = KEY):
    return world.run(SubmitRequest(spec=world.spec(request_id), merge_key=key))


def test_a_second_report_of_an_open_incident_is_dispatched_to_nobody(world):
    _drivers(world)
    first = _report(world, "req-1")
    assert world.offered(first)
    world.now += timedelta(seconds=30)
    second = _report(world, "req-2")
    assert world.offered(second) == []
    # Recorded as its own request, closed at once, naming the request it joined.
    kinds = [e.body.type for e in second.events]
    assert kinds[0] == "request_opened" and kinds[-1] == "request_cancelled"
    cancelled = world.of_type("request_cancelled", second)[0]
    assert cancelled.by is Party.SYSTEM and cancelled.reason == f"{MERGED_INTO}req-1"
    merged = world.request("req-2")
    assert merged.status is RequestStatus.CANCELLED and merged.next_deadline is None
    assert world.request("req-1").status is RequestStatus.OPEN


def test_the_life_threatening_advice_is_given_to_a_merged_report_too(world):
    _report(world, "req-1")
    second = _report(world, "req-2")
    assert [a.number for a in world.of_type("emergency_call_advised", second)] == ["120"]


def test_no_merge_key_another_key_or_a_closed_request_means_a_new_request(world):
    _drivers(world)
    _report(world, "req-1")
    assert world.offered(_report(world, "req-2", key=None))  # staff's
    assert world.offered(_report(world, "req-3", key=KEY + "-other"))
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    world.run(CancelRequest(request_id="req-2", by=Party.REQUESTER))
    world.run(CancelRequest(request_id="req-3", by=Party.REQUESTER))
    assert world.offered(_report(world, "req-4"))


def test_an_incident_older_than_the_window_is_a_new_request(world):
    _drivers(world)
    _report(world, "req-1")
    world.now += timedelta(seconds=MERGE_WINDOW_S + 1)
    assert world.offered(_report(world, "req-2"))


def test_merged_into_the_latest_open_request_and_never_into_itself(world):
    _report(world, "req-1")
    world.now += timedelta(seconds=1)
    world.run(SubmitRequest(spec=world.spec("req-5")))  # no key: never a target
    # A re-sent command of the first report is the same request, not a report of it.
    assert not _report(world, "req-1").changed
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    world.now += timedelta(seconds=1)
    _report(world, "req-2")  # the first closed: a new request
    world.now += timedelta(seconds=1)
    third = _report(world, "req-3")
    assert world.of_type("request_cancelled", third)[0].reason == f"{MERGED_INTO}req-2"


def test_the_open_requests_by_key_survive_a_rebuild(world):
    _drivers(world)
    _report(world, "req-1")
    rebuilt = DispatchState.rebuild(
        world.state.helpers.values(), world.state.requests.values(), plans=REFERENCE_PLANS
    )
    assert len(rebuilt.merging) == 1
    world.state = rebuilt
    assert world.offered(_report(world, "req-2")) == []
    assert len(world.state.merging) == 1  # the merged report was never open
