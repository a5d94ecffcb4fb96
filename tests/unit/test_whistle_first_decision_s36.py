"""A whistle in a request's first decision (nobody fits in its rings: the ladder climbs to
the whistle at once) is planned by the notify agent from this worker's state, and the
notify agent can read the record back before Kafka's acknowledgement is back at the
dispatch agent. Before session 36 a lone command's decision was applied to that state only
after its table writes: the state had no such request yet, and the whistle went to every
contact of the community, not only to those whose area covers the request's place.

The dispatch agent with Kafka replaced by an in-memory `events` topic (as in
tests/unit/test_dispatch_groups.py) whose reader plans each record as it is sent."""

from __future__ import annotations

from pathlib import Path

from dispatcher.push import EndpointKind
from dispatcher.push.deliveries import DeliveryPlanner
from schemas.commands import SubmitRequest
from schemas.config import RecipientRole, WhistleRecipient
from schemas.event_batch import decode_record
from schemas.events import WhistleBlown
from tests.unit.conftest import World
from tests.unit.test_dispatch_groups import FakeEvent, FakeEvents, Runtime, agent, runtime, take
from tests.unit.test_push_deliveries import BASE, KEYS, fake_links, registry
from tests.unit.test_whistle_recipients import fake_recipient_links

STAFF_PHONES = "staff-phones"  # a district-wide endpoint the contacts are reached through
CONTACTS = [
    WhistleRecipient(
        role=RecipientRole.GRID_WORKER, name="张", endpoint=STAFF_PHONES, grid_id="g1"
    ),
    WhistleRecipient(
        role=RecipientRole.GRID_WORKER, name="李", endpoint=STAFF_PHONES, grid_id="g2"
    ),
]


def planner_of(rt: Runtime) -> DeliveryPlanner:
    return DeliveryPlanner(
        registry=registry((STAFF_PHONES, EndpointKind.WEBHOOK)),
        helper=lambda hid: rt.state.core.helpers.get(hid),
        request=lambda rid: rt.state.core.requests.get(rid),
        offer_links=fake_links,
        public_base_url=BASE,
        recipient_links=fake_recipient_links,
        keys=KEYS,
        whistle_recipients=lambda community_id: CONTACTS,
    )


async def test_a_whistle_in_a_requests_first_decision_calls_only_its_areas_contacts(
    tmp_path: Path,
) -> None:
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    planner = planner_of(rt)
    whistled: list[list[str]] = []  # per whistle, its recipients, planned as it goes out

    def plan_whistles(value: bytes) -> None:  # this worker's notify agent reading the record
        for event in decode_record(value).events:
            if isinstance(event.body, WhistleBlown):
                whistled.append([str(d.recipient) for d in planner.plan(event).deliveries])

    events.on_send = plan_whistles
    dispatch, sink = agent(rt)
    world = World()  # no helper at all: the ladder climbs to the whistle at once
    spec = world.spec()
    assert spec.place.grid_id == "g1"
    command = world.command(SubmitRequest(spec=spec))
    await take(dispatch, [FakeEvent(0, command.model_dump_json().encode())])
    assert not sink.letters
    # 张 covers grid g1, where the request is; 李 covers g2 (before: both were called).
    assert len(whistled) == 1
    [called] = whistled
    assert called == ["grid_worker.张"]
