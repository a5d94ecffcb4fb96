"""The worker's side of quiet hours changed (streams/deadline_timer.py `review_holds`): when a
community's quiet hours change in its configuration view, the worker sends the core one
`ReportQuietHoursChanged` per request of its own partitions that the hours as they are now
hold otherwise, through the commands topic; the core decides it (released, here). Before,
a configuration change only refreshed the worker's policy dict and nothing looked at held
requests again: a chore held at 23:00 waited to 07:00 though the hours were gone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.core.community import CommunityPolicy
from schemas.commands import Command, ReportQuietHoursChanged, SubmitRequest
from schemas.vocab import Category, Urgency
from streams.deadline_timer import DeadlineTimer, partition_for
from streams.state_store import WorkerState, encode_record
from tests.support.worker_clock import CommandsTopic
from tests.unit.conftest import COMMUNITY, World, place

SH = ZoneInfo("Asia/Shanghai")
NIGHT = CommunityPolicy(quiet_start=time(22), quiet_end=time(7), zone=SH)
OTHER = "other-community"  # on another partition of 8 than COMMUNITY
PARTITIONS = 8


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=SH).astimezone(UTC)


def night_world() -> World:
    """At 23:00: two chores held to 07:00 (one in each community), an urgent one climbing."""
    w = World()
    w.state.communities = {COMMUNITY: NIGHT, OTHER: NIGHT}
    w.helper("h0")
    w.now = at(6, 23)
    chore = {"urgency": Urgency.NORMAL, "category": Category.ERRAND, "skills": ()}
    w.submit("held", **chore)
    w.submit("urgent", urgency=Urgency.URGENT, category=Category.ERRAND, skills=())
    spec = w.spec("other", community_id=OTHER, place=place(community=OTHER), **chore)
    w.run(
        Command(command_id="o", community_id=OTHER, issued_at=w.now, body=SubmitRequest(spec=spec))
    )
    assert w.request("held").held_until == w.request("other").held_until == at(7, 7)
    assert w.request("urgent").held_until is None
    return w


def worker(w: World, owns: set[int], generation: int = 1) -> tuple[DeadlineTimer, CommandsTopic]:
    """A worker owning `owns`, its state rebuilt from the tables as `w` holds them, its
    policies the very dict `w`'s core reads (the worker's configuration view)."""
    items = [
        (r.request_id.encode(), encode_record(partition_for(r.community_id, PARTITIONS), r))
        for r in w.state.requests.values()
    ]
    state = WorkerState.rebuild(items, [], frozenset(owns), generation)
    state.core.communities = w.state.communities
    commands = CommandsTopic()
    rt: Any = SimpleNamespace(
        state_ready=lambda: True,
        clock=SimpleNamespace(now=lambda: w.now),
        state=state,
        commands=commands,
    )
    return DeadlineTimer(rt), commands


def remove_hours(w: World, community_id: str, *timers: DeadlineTimer) -> None:
    """Staff remove the community's quiet hours: each worker's view follows the change and
    calls its timer back (streams/worker.py `community_changed`)."""
    before = dict(w.state.communities)
    del w.state.communities[community_id]
    for timer in timers:
        timer.quiet_hours_changed(before, w.state.communities)


def test_removed_hours_send_one_command_per_held_request_of_this_workers_partitions():
    w = night_world()
    mine, theirs = partition_for(COMMUNITY, PARTITIONS), partition_for(OTHER, PARTITIONS)
    assert mine != theirs
    a, sent_a = worker(w, {mine})
    b, sent_b = worker(w, {theirs})
    # Their first look (a state rebuilt) finds every hold as the hours give it: nothing.
    assert asyncio.run(a.review_holds()) == asyncio.run(b.review_holds()) == 0
    w.now = at(6, 23, 30)
    remove_hours(w, COMMUNITY, a, b)

    assert asyncio.run(a.review_holds()) == 1
    assert asyncio.run(b.review_holds()) == 0  # not its partition: it holds no such request
    [cmd] = sent_a.taken()
    assert not sent_b.taken()
    assert isinstance(cmd.body, ReportQuietHoursChanged) and cmd.body.request_id == "held"
    assert cmd.community_id == COMMUNITY and cmd.issued_at == at(6, 23, 30)
    # Decided by the core at its time: released, its first offer out now.
    decision = w.run(cmd)
    assert "request_released" in [e.body.type for e in decision.events] and w.offered(decision)
    assert w.request("other").held_until == at(7, 7)  # its community's hours are unchanged
    assert asyncio.run(a.review_holds()) == 0  # nothing changed since


def test_a_worker_that_takes_the_partition_after_the_change_looks_at_its_holds():
    w = night_world()
    mine = partition_for(COMMUNITY, PARTITIONS)
    w.now = at(6, 23, 30)
    del w.state.communities[COMMUNITY]  # changed while this worker did not own the partition
    timer, sent = worker(w, {mine}, generation=7)
    assert asyncio.run(timer.review_holds()) == 1
    # The hours it saw (none, in its community's zone): the core decides from them.
    assert [c.body for c in sent.taken()] == [
        ReportQuietHoursChanged(request_id="held", quiet_hours=None, time_zone="Asia/Shanghai")
    ]
    assert asyncio.run(timer.review_holds()) == 0  # once per state rebuilt


def test_nothing_is_sent_before_the_communities_settings_are_loaded():
    w = night_world()
    w.now = at(6, 23, 30)
    w.state.communities.clear()  # the view not loaded yet: no policy at all
    timer, sent = worker(w, {partition_for(COMMUNITY, PARTITIONS)})
    timer.config_ready = asyncio.Event()
    assert asyncio.run(timer.review_holds()) == 0 and not sent.taken()


def test_unchanged_quiet_hours_mark_nothing():
    w = night_world()
    timer, sent = worker(w, {partition_for(COMMUNITY, PARTITIONS)})
    asyncio.run(timer.review_holds())
    before = dict(w.state.communities)
    # A community change that leaves the hours as they were (its plan, its display name).
    w.state.communities[COMMUNITY] = CommunityPolicy(
        plan_name="gentle", quiet_start=time(22), quiet_end=time(7), zone=SH
    )
    timer.quiet_hours_changed(before, w.state.communities)
    assert asyncio.run(timer.review_holds()) == 0 and not sent.taken()


def test_the_review_never_reads_back_the_closed_requests_kept_as_json() -> None:
    """A held or paused request is open, so never cold: the review looks at the requests held
    as models only. Before (session 43 review R2) it read every request, each closed one
    rebuilt from its JSON on the loop (~45 µs apiece: 0.9 s for 20,000) at every rebalance."""
    w = night_world()
    timer, sent = worker(w, {partition_for(COMMUNITY, PARTITIONS)}, generation=3)
    requests = timer.rt.state.core.requests
    requests._cold["long-closed"] = (at(5, 12), b"not a record: never to be read")
    w.now = at(6, 23, 30)
    remove_hours(w, COMMUNITY, timer)
    assert asyncio.run(timer.review_holds()) == 1  # before: ValidationError from the JSON
    assert [c.body.request_id for c in sent.taken()] == ["held"]  # type: ignore[union-attr]


def test_hours_changed_and_changed_back_before_the_first_command_is_decided():
    """Extended to 09:00, then put back to 07:00 before the core decided the first command:
    the worker's hold is still 07:00, which the hours give again, yet a second command goes
    out with them; decided after the first (the community's partition keeps the order), it
    holds the chore to 07:00 again. Before, nothing was sent (the hold looked right) and the
    first command, carrying 09:00, held it to 09:00."""
    w = night_world()
    timer, sent = worker(w, {partition_for(COMMUNITY, PARTITIONS)})
    asyncio.run(timer.review_holds())
    for end in (9, 7):
        w.now = at(6, 23, 30) if end == 9 else at(6, 23, 31)
        before = dict(w.state.communities)
        w.state.communities[COMMUNITY] = CommunityPolicy(
            quiet_start=time(22), quiet_end=time(end), zone=SH
        )
        timer.quiet_hours_changed(before, w.state.communities)
        assert asyncio.run(timer.review_holds()) == 1
    first, second = sent.taken()
    w.run(first)
    assert w.request("held").held_until == at(7, 9)
    w.run(second)
    assert w.request("held").held_until == at(7, 7)
