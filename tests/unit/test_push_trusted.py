"""The planner builds an offer's Delivery and PushMessage without validating them
(push/deliveries.py, push/messages.py, core.trusted): these tests show each is exactly what
validation builds from the same values (types, field order, fields-set), and that an event
id validation would refuse is still refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from dispatcher.push.model import Delivery
from schemas.events import Event
from tests.unit.conftest import World
from tests.unit.exact_models import exact
from tests.unit.test_push_deliveries import (
    ROBOTS,
    offer_to,
    planner,
    registry,
    with_channels,
)


def _as_validated(m: BaseModel) -> None:
    """`m` against the model validation builds from its own fields as passed."""
    cls = type(m)
    again = cls(**{k: getattr(m, k) for k in m.model_fields_set})
    exact(m, again, cls.__name__)
    assert m.model_fields_set == again.model_fields_set
    assert m.model_dump_json() == again.model_dump_json()


def _variants(event: Event) -> list[Event]:
    """The offer as sent, to a team's leader, and asking for a skill this release lacks."""
    body = event.body
    return [
        event,
        event.model_copy(
            update={"body": body.model_copy(update={"team_id": "帮帮团", "team_size": 5})}
        ),
        event.model_copy(
            update={"body": body.model_copy(update={"skills": ("driving", "juggling")})}
        ),
    ]


@pytest.fixture
def wave(world: World) -> World:
    """A wave of offers to helpers reached privately (the default webhook) and in a group."""
    for i in range(3):
        with_channels(world, f"private-driver-{i}")
        with_channels(world, f"group-driver-{i}", "wecom:grid-3")
    world.submit(helpers_needed=3)
    return world


def test_every_offer_of_a_wave_is_what_validation_builds(wave: World) -> None:
    plan = planner(wave, registry(*ROBOTS)).plan
    offers = wave.offer_events()
    reached = {plan(e).deliveries[0].endpoint for e in offers}
    assert reached == {"default", "grid-3"}  # private and group offers both checked
    for event in offers:
        for variant in _variants(event):
            [d] = plan(variant).deliveries
            _as_validated(d)
            _as_validated(d.message)
            # Every field passed, as the validated Delivery always had them.
            assert d.model_fields_set == set(Delivery.model_fields)
            assert d.message.model_fields_set == {"title", "text"}


@pytest.mark.parametrize(
    "event_id",
    ["", "x" * 129, "has space", "newline-at-end\n", "城管", "a/b"],
)
def test_an_event_id_validation_refuses_is_still_refused(wave: World, event_id: str) -> None:
    """The id travels as the webhook-id header: only header-safe ids are built unvalidated."""
    event = offer_to(wave, "private-driver-0").model_copy(update={"event_id": event_id})
    with pytest.raises(ValidationError, match="delivery_id"):
        planner(wave, registry(*ROBOTS)).plan(event)


@pytest.mark.parametrize("event_id", ["x" * 128, "A-z_0.9:-"])
def test_the_longest_and_oddest_safe_ids_pass_as_before(wave: World, event_id: str) -> None:
    event = offer_to(wave, "private-driver-0").model_copy(update={"event_id": event_id})
    [d] = planner(wave, registry(*ROBOTS)).plan(event).deliveries
    assert d.delivery_id == event_id
    _as_validated(d)
