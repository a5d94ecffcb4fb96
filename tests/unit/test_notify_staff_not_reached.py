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
