"""A whistle or referral that reached none of the staff it called (every push lost for good,
reported by the notify agent as `ReportStaffNotReached`): the pure core records it on the
request and does not leave the request waiting on a call nobody got (no I/O here)."""

from __future__ import annotations

from datetime import timedelta

from schemas.commands import ClaimRequest, ReportStaffNotReached
from schemas.events import Event
from schemas.records import RequestStatus
from schemas.vocab import Urgency
from tests.unit.conftest import World


def _rung_event(world: World, kind: str) -> Event:
    """Tick the request until the rung's event (`whistle_blown`, `referred_to_emergency`)."""
    while not [e for e in world.events if e.body.type == kind]:
        world.tick()
    return next(e for e in world.events if e.body.type == kind)


def _lost(event: Event, *, rung: str = "whistle") -> ReportStaffNotReached:
    return ReportStaffNotReached(
        request_id="req-1",
        rung=rung,  # type: ignore[arg-type]
        step=event.body.step,  # type: ignore[union-attr]
        called_at=event.occurred_at,
        recipients=2,
        roles=("duty", "grid_worker"),
        reason="HTTP 410",
    )


def test_a_lost_whistle_is_recorded_and_the_referral_rung_runs_at_once(world: World) -> None:
    world.submit()  # critical, nobody in any ring: straight to the whistle
    whistle = _rung_event(world, "whistle_blown")
    world.later(5)
    decision = world.run(_lost(whistle), command_id="lost-1")
    [recorded] = world.of_type("staff_not_reached", decision)
    assert (recorded.rung, recorded.step, recorded.recipients) == ("whistle", whistle.body.step, 2)
    assert recorded.roles == ("duty", "grid_worker") and recorded.reason == "HTTP 410"
    # Not 2 minutes waiting on people who never heard: the referral (120 advised) now.
    assert [e.body.type for e in decision.events][1:] == ["ring_escalated", "referred_to_emergency"]
    r = world.request()
    assert r.step == whistle.body.step + 1 and r.status is RequestStatus.OPEN


def test_on_the_last_rung_the_wait_starts_again_instead_of_expiring_unseen(world: World) -> None:
    world.submit(urgency=Urgency.URGENT)  # the whistle is the urgent plan's last rung
    whistle = _rung_event(world, "whistle_blown")
    wait = world.request().plan.steps[whistle.body.step].wait_s
    assert world.request().next_deadline == whistle.occurred_at + timedelta(seconds=wait)
    world.later(600)
    decision = world.run(_lost(whistle), command_id="lost-1")
    assert [e.body.type for e in decision.events] == ["staff_not_reached"]
    r = world.request()
    assert r.step == whistle.body.step and r.step_started_at == world.now
    assert r.next_deadline == world.now + timedelta(seconds=wait)
    # At the whistle's original end the request is still open (flagged on the dashboard).
    world.now = whistle.occurred_at + timedelta(seconds=wait)
    assert world.run(_lost(whistle), command_id="lost-2").events  # recorded again...
    assert world.request().step_started_at == whistle.occurred_at + timedelta(seconds=600)
    assert world.request().status is RequestStatus.OPEN  # ...the ladder moved once


def test_the_same_report_twice_is_one_record(world: World) -> None:
    world.submit(urgency=Urgency.URGENT)
    whistle = _rung_event(world, "whistle_blown")
    report = _lost(whistle)
    assert world.run(report, command_id="lost-1").events
    before = world.request()
    assert world.run(report, command_id="lost-1").events == ()
    assert world.request() == before


def test_a_lost_referral_is_recorded_and_its_wait_starts_again(world: World) -> None:
    world.submit()
    referral = _rung_event(world, "referred_to_emergency")
    world.later(30)
    decision = world.run(_lost(referral, rung="referral"), command_id="lost-1")
    [recorded] = world.of_type("staff_not_reached", decision)
    assert recorded.rung == "referral" and len(decision.events) == 1
    assert world.request().step_started_at == world.now


def test_a_request_someone_took_on_is_flagged_but_its_ladder_left_alone(world: World) -> None:
    world.submit()
    whistle = _rung_event(world, "whistle_blown")
    world.run(ClaimRequest(request_id="req-1", by="li.wei"))
    before = world.request()
    decision = world.run(_lost(whistle), command_id="lost-1")
    assert [e.body.type for e in decision.events] == ["staff_not_reached"]
    after = world.request()
    assert (after.step, after.step_started_at) == (before.step, before.step_started_at)


def test_a_closed_request_keeps_the_record_only(world: World) -> None:
    world.submit(urgency=Urgency.URGENT)
    whistle = _rung_event(world, "whistle_blown")
    while world.request().status is RequestStatus.OPEN:
        world.tick()
    assert world.request().status is RequestStatus.EXPIRED
    decision = world.run(_lost(whistle), command_id="lost-1")
    assert [e.body.type for e in decision.events] == ["staff_not_reached"]
    assert world.request().status is RequestStatus.EXPIRED


def test_a_report_about_a_rung_never_reached_or_of_another_kind_changes_nothing(
    world: World,
) -> None:
    world.submit(urgency=Urgency.URGENT)
    whistle = _rung_event(world, "whistle_blown")
    before = world.request()
    wrong_kind = _lost(whistle, rung="referral")  # the whistle's step is no referral rung
    assert world.run(wrong_kind, command_id="odd-1").events == ()
    beyond = _lost(whistle).model_copy(update={"step": whistle.body.step + 1})
    assert world.run(beyond, command_id="odd-2").events == ()
    assert world.request().step_started_at == before.step_started_at
