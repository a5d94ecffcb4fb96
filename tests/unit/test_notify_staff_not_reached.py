"""The notify agent's decision to tell the core that a whistle or referral reached nobody
(streams/notify.py): sent once every push of the rung to a person (not the community group)
has failed for good, never while one of them arrived; its command id is the event's, so a
report sent again after a restart is the same command. Kafka and the push engine are fakes
here (a list of sent commands, a recorder of submitted deliveries)."""

from __future__ import annotations

import uuid

from dispatcher.push import Delivery, EndpointKind
from dispatcher.push.deliveries import community_group_endpoint
from schemas.commands import Command, ReportStaffNotReached
from schemas.events import Event
from schemas.vocab import Role
from streams.notify import Notifier
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_push_deliveries import events, planner, registry
from tests.unit.test_worker_notify import FAKE_NOW, FaustEvent, notifier

GROUP = community_group_endpoint(COMMUNITY)
STAFF_LIST = (
    (GROUP, EndpointKind.WECOM),
    (f"{GROUP}.duty", EndpointKind.WEBHOOK),
    (f"{GROUP}.grid_worker", EndpointKind.WEBHOOK),
)


def _rung(world: World, kind: str) -> Event:
    """A critical request nobody can answer, ticked on to the rung's event."""
    if not world.state.requests:
        world.submit()
    while not events(world, kind):
        world.tick()
    return events(world, kind)[0]


async def _pushed(world: World, event: Event) -> tuple[Notifier, list[Command], list[Delivery]]:
    n, sent, submitted = notifier(planner(world, registry(*STAFF_LIST)))
    await n.handle(FaustEvent(), event)
    return n, sent, submitted.deliveries


def _to(deliveries: list[Delivery], endpoint: str) -> Delivery:
    return next(d for d in deliveries if d.endpoint == endpoint)


async def test_a_whistle_lost_to_every_person_is_reported_with_the_events_id(world: World) -> None:
    whistle = _rung(world, "whistle_blown")
    n, sent, deliveries = await _pushed(world, whistle)
    assert {d.endpoint for d in deliveries} == {GROUP, f"{GROUP}.duty", f"{GROUP}.grid_worker"}
    await n._delivered(_to(deliveries, GROUP), 0.1)  # the group is no person on duty
    await n._failed(_to(deliveries, f"{GROUP}.duty"), "HTTP 410: gone")
    assert sent == []  # the grid worker may still get it
    await n._failed(_to(deliveries, f"{GROUP}.grid_worker"), "push budget spent (30 min)")
    [command] = sent
    assert command.command_id == str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"staff-not-reached:{whistle.event_id}")
    )
    assert (command.community_id, command.issued_at) == (COMMUNITY, FAKE_NOW)
    assert command.body == ReportStaffNotReached(
        request_id="req-1",
        rung="whistle",
        step=whistle.body.step,  # type: ignore[union-attr]
        called_at=whistle.occurred_at,
        recipients=2,
        roles=("duty", "grid_worker"),
        reason="push budget spent (30 min)",
    )
    assert not n._pending and not n._calls  # the event acknowledged once the report went


async def test_one_person_reached_means_no_report(world: World) -> None:
    whistle = _rung(world, "whistle_blown")
    n, sent, deliveries = await _pushed(world, whistle)
    await n._delivered(_to(deliveries, f"{GROUP}.grid_worker"), 0.1)
    await n._failed(_to(deliveries, f"{GROUP}.duty"), "HTTP 410: gone")
    await n._failed(_to(deliveries, GROUP), "HTTP 500")
    assert sent == [] and not n._pending and not n._calls


async def test_only_the_group_lost_is_no_staff_unreached(world: World) -> None:
    whistle = _rung(world, "whistle_blown")
    n, sent, deliveries = await _pushed(world, whistle)
    await n._failed(_to(deliveries, GROUP), "HTTP 500")
    for endpoint in (f"{GROUP}.duty", f"{GROUP}.grid_worker"):
        await n._delivered(_to(deliveries, endpoint), 0.1)
    assert sent == []


async def test_a_lost_referral_is_reported_and_a_restart_reports_the_same_command(
    world: World,
) -> None:
    referral = _rung(world, "referred_to_emergency")
    reports = []
    for _ in range(2):  # the event pushed again after a restart: a new notifier
        n, sent, deliveries = await _pushed(world, referral)
        [duty] = deliveries  # the referral rung calls the duty officer alone
        assert duty.endpoint == f"{GROUP}.duty"
        await n._failed(duty, "HTTP 410: gone")
        reports += sent
    first, again = reports
    assert first == again
    assert first.body.rung == "referral" and first.body.roles == ("duty",)  # type: ignore[union-attr]


# --- a rung with nobody to call (session 41 audit) ---------------------------------------
# No whistle list (no duty or grid endpoint, no configured contact) and no staff on duty
# offered it: before, `_staff_call` returned None, nothing was reported, and the core
# waited the whistle's whole wait (120 s for a critical request) before the referral, while
# the same staff configured but unreachable made it climb at once and flagged the dashboard.


# An endpoint, but no person of the whistle list (the helpers' default webhook).
DEFAULT = ("default", EndpointKind.WEBHOOK)


async def _nobody(
    world: World, event: Event, *endpoints: tuple[str, EndpointKind]
) -> list[Command]:
    n, sent, submitted = notifier(planner(world, registry(*endpoints)))
    await n.handle(FaustEvent(), event)
    assert all(d.data.get("role") == "group" for d in submitted.deliveries)
    if not submitted.deliveries:  # nothing to push: the event is done once reported
        assert not n._pending
    return sent


def _reported_nobody(sent: list[Command], event: Event, rung: str) -> None:
    [command] = sent
    assert command.command_id == str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"staff-not-reached:{event.event_id}")
    )
    assert command.body.reason.startswith("nobody to call")  # type: ignore[union-attr]
    assert command.body.model_copy(update={"reason": ""}) == ReportStaffNotReached(
        request_id="req-1",
        rung=rung,  # type: ignore[arg-type]
        step=event.body.step,  # type: ignore[union-attr]
        called_at=event.occurred_at,
        recipients=0,
        roles=(),
    )


async def test_a_whistle_with_nobody_on_the_list_is_reported_at_once(world: World) -> None:
    whistle = _rung(world, "whistle_blown")
    assert whistle.body.staff_helper_ids == ()  # type: ignore[union-attr]
    # The group robot alone is told (no person): reported before any push settles.
    _reported_nobody(await _nobody(world, whistle, (GROUP, EndpointKind.WECOM)), whistle, "whistle")
    # No group robot either (only the helpers' default webhook): nothing pushed, reported.
    _reported_nobody(await _nobody(world, whistle, DEFAULT), whistle, "whistle")


async def test_a_referral_with_nobody_to_hand_it_on_is_reported_at_once(world: World) -> None:
    referral = _rung(world, "referred_to_emergency")
    _reported_nobody(await _nobody(world, referral, DEFAULT), referral, "referral")


async def test_a_whistle_that_offered_staff_on_duty_is_no_call_of_nobody(world: World) -> None:
    """Staff on duty offered it (no list besides): someone was called; their answers (or
    their offers' loss) move the ladder, as before."""
    world.helper("staff", roles=[Role.COMMUNITY_STAFF], building="9", compound="far", grid="g9")
    whistle = _rung(world, "whistle_blown")
    assert whistle.body.staff_helper_ids == ("staff",)  # type: ignore[union-attr]
    assert await _nobody(world, whistle, (GROUP, EndpointKind.WECOM)) == []


def test_the_core_climbs_on_a_report_of_nobody(world: World) -> None:
    """The report of a call of none is decided as one of a call nobody answered: recorded
    (the dashboard's 值班人员未联系上) and the referral rung reached now, not after the wait."""
    whistle = _rung(world, "whistle_blown")
    report = ReportStaffNotReached(
        request_id="req-1",
        rung="whistle",
        step=whistle.body.step,  # type: ignore[union-attr]
        called_at=whistle.occurred_at,
        recipients=0,
    )
    out = world.run(report)
    [flag] = world.of_type("staff_not_reached", out)
    assert (flag.rung, flag.recipients) == ("whistle", 0)
    assert world.of_type("referred_to_emergency", out)
