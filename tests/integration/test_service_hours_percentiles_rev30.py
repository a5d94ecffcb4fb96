"""Review 30 on the real PostgreSQL: the month report's service hours leave out a "done"
pressed after the helper was stood down (refused by the core now; an older log still holds
some), and its time-to-first-accept percentiles, like the dashboard's, are nearest rank:
the same figure dispatcher/stats.py (and the simulator) gives on the same samples."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from dispatcher.ops.reports import month_report
from dispatcher.record.projection import record_events
from dispatcher.record.read.dashboard import today_by_community
from dispatcher.stats import nearest_rank
from schemas.commands import CancelRequest, CompleteAssignment
from schemas.events import AssignmentCompleted, Event
from schemas.vocab import Party, Skill
from tests.support import stack_db
from tests.support.local_day import one_local_day
from tests.unit.conftest import COMMUNITY, World

LOCAL = timezone(timedelta(hours=8))


conn = stack_db.conn  # a connection to the module's namespace


def _offered_to(w: World, rid: str, *helpers: str, **spec: object) -> None:
    for hid in helpers:
        w.helper(hid, skills=[Skill.DRIVING])
    d = w.submit(rid, **spec)
    assert set(helpers) <= set(w.offered(d))


def _done_as_an_older_core_recorded_it(w: World, rid: str, helper_id: str, minutes: int) -> Event:
    """The "done" an older core accepted after the cancellation (the review's finding)."""
    a = next(a for a in w.request(rid).assignments if a.helper_id == helper_id)
    body = AssignmentCompleted(
        offer_id=a.offer_id, helper_id=helper_id, slot=a.slot, minutes=minutes, minutes_given=False
    )
    return Event(
        event_id=f"old-done-{rid}",
        community_id=COMMUNITY,
        request_id=rid,
        occurred_at=w.now,
        caused_by=f"old-cmd-{rid}",
        body=body,
    )


async def test_hours_leave_out_a_done_after_a_stand_down(conn: asyncpg.Connection) -> None:
    w = World()
    # Stood down by a cancellation 2 min after accepting; 已完成 pressed 10 h later.
    _offered_to(w, "req-cancel", "driver-a")
    w.accept("driver-a", "req-cancel")
    w.later(120)
    w.run(CancelRequest(request_id="req-cancel", by=Party.REQUESTER, reason="ok now"))
    w.later(10 * 3600)
    late = w.run(CompleteAssignment(request_id="req-cancel", helper_id="driver-a"))
    assert [r.reason for r in w.of_type("command_rejected", late)] == ["request_closed"]
    old_done = _done_as_an_older_core_recorded_it(w, "req-cancel", "driver-a", 600)
    # Done first, then the requester cancelled the other slot: the 30 minutes stand.
    _offered_to(w, "req-both", "driver-b", helpers_needed=2)
    w.accept("driver-b", "req-both")
    w.run(CompleteAssignment(request_id="req-both", helper_id="driver-b", minutes=30))
    w.run(CancelRequest(request_id="req-both", by=Party.REQUESTER, reason="enough"))
    # The lifetime closed it (2 h); done pressed the next day counts to the closing only.
    _offered_to(w, "req-life", "driver-c")
    w.accept("driver-c", "req-life")
    accepted_at = w.now
    while w.request("req-life").next_deadline is not None:
        w.tick("req-life")
    closed_at = w.request("req-life").closed_at
    assert closed_at is not None
    w.later(23 * 3600)
    w.run(CompleteAssignment(request_id="req-life", helper_id="driver-c"))
    worked = round((closed_at - accepted_at).total_seconds() / 60)

    await record_events(conn, [*w.events, old_done])
    released = await conn.fetchval(
        "SELECT released_why FROM assignments WHERE request_id = 'req-cancel'"
    )
    assert released == "cancelled"
    month = w.now.astimezone(LOCAL).strftime("%Y-%m")
    report = await month_report(conn, COMMUNITY, month)
    hours = {h["helper_id"]: (h["assignments"], h["service_hours"]) for h in report.helpers}
    assert hours == {"driver-b": (1, 0.5), "driver-c": (1, round(worked / 60, 2))}


# Each set in its own community: edge cases of rank (n = 1, 2; q * n a whole number; ties;
# unsorted; 100 samples for p99) where interpolation gives another figure.
SAMPLES: dict[str, Sequence[float]] = {
    "pct-one": [7.0],
    "pct-two": [10.0, 20.0],
    "pct-four": [40.0, 10.0, 30.0, 20.0],
    "pct-ten": [float(s) for s in range(1, 11)],
    "pct-eleven": [float(s) for s in range(11, 0, -1)],
    "pct-ties": [5.0, 5.0, 5.0, 60.0],
    "pct-decimals": [3.2, 100.7, 45.1, 8.8, 8.9],
    "pct-hundred": [float((7 * s) % 100 + 1) for s in range(100)],
}


def _answered_after(community: str, delays: Sequence[float], start: datetime) -> list[Event]:
    """Each delay a request answered that long after it opened, and one never answered."""
    w = World()
    w.now = start
    for k in range(12):
        w.helper(f"h{k}", skills=[Skill.DRIVING])
    for i, delay in enumerate(delays):
        rid = f"{community}-{i}"
        first = w.offered(w.submit(rid))[0]
        w.later(delay)
        w.accept(first, rid)
        # 已完成: a helper holding an in-person errand is not offered the next one
        w.run(CompleteAssignment(request_id=rid, helper_id=first))
    w.submit(f"{community}-unanswered")
    return [  # ids too: each World numbers its commands and events from one
        e.model_copy(update={"community_id": community, "event_id": f"{community}:{e.event_id}"})
        for e in w.events
    ]


async def test_percentiles_are_nearest_rank_as_the_simulator_reports(
    conn: asyncpg.Connection,
) -> None:
    await one_local_day(120)  # "today" is read below, by PostgreSQL's clock
    now = datetime.now(UTC)
    local_midnight = now.astimezone(LOCAL).replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(now - timedelta(hours=1), local_midnight.astimezone(UTC) + timedelta(minutes=1))
    for community, delays in SAMPLES.items():
        await record_events(conn, _answered_after(community, delays, start))

    month = start.astimezone(LOCAL).strftime("%Y-%m")
    today = {r["community_id"]: r for r in await today_by_community(conn, sorted(SAMPLES))}
    for community, delays in SAMPLES.items():
        total = (await month_report(conn, community, month)).total
        assert total["requests"] == len(delays) + 1 and total["answered"] == len(delays)
        assert total["ttfa_median_s"] == round(nearest_rank(delays, 0.5), 1), community
        assert total["ttfa_p90_s"] == round(nearest_rank(delays, 0.9), 1), community
        row = today[community]
        for key, q in (("ttfa_p50", 0.5), ("ttfa_p90", 0.9), ("ttfa_p99", 0.99)):
            assert isinstance(row[key], float), (community, key, row[key])
            assert row[key] == pytest.approx(nearest_rank(delays, q), abs=1e-6), (community, key)
