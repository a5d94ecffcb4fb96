"""A late accept of an offer that ended unaccepted counts once (session 43 audit a4).

The core takes an accept of an offer that expired unanswered, was declined or was stood down
while a slot is free (its link works until the request's end). `dispatch_offer_answers`
forgot the offer's ring at its first end, so it counted the offer twice: `expired` (or
`declined`) under its ring, then `accepted` under ring "unknown" (more answers than offers
sent, acceptances by ring undercounted). Now the first end stays the offer's one end and the
late accept counts under its ring as `accepted_late`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dispatcher.ops.event_metrics import EventMetrics
from dispatcher.ops.metric_defs import DispatchMetrics
from schemas.commands import CancelRequest
from schemas.vocab import Party, Skill
from tests.unit.conftest import World

LATE = "accepted_late"


def _answers(em: EventMetrics, registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.labels["ring"], s.labels["answer"]): s.value
        for m in registry.collect()
        for s in m.samples
        if s.name == "dispatch_offer_answers_total" and s.value
    }


def _observed(world: World) -> tuple[EventMetrics, dict[tuple[str, str], float]]:
    registry = CollectorRegistry()
    em = EventMetrics(DispatchMetrics.create(registry))
    em.observe_all(world.events)
    return em, _answers(em, registry)


def _one_helper(world: World) -> str:
    world.helper("h1", skills=[Skill.DRIVING])
    world.submit()
    [offer] = world.of_type("offer_sent")
    return str(offer.ring)


def _each_offer_ends_once(world: World, answers: dict[tuple[str, str], float]) -> None:
    ends = sum(v for (_, answer), v in answers.items() if answer != LATE)
    assert ends == len(world.of_type("offer_sent")), answers


def test_a_decline_then_a_late_accept_counts_once_under_its_ring(world: World) -> None:
    ring = _one_helper(world)
    world.decline("h1")
    world.later(60)
    world.accept("h1")
    assert len(world.of_type("helper_assigned")) == 1
    _, answers = _observed(world)
    # old: {(ring, "declined"): 1, ("unknown", "accepted"): 1}
    assert answers == {(ring, "declined"): 1, (ring, LATE): 1}, answers
    _each_offer_ends_once(world, answers)


def test_an_expiry_then_a_late_accept_counts_once_under_its_ring(world: World) -> None:
    ring = _one_helper(world)
    offer = world.offer_id("h1")
    while offer not in [b.offer_id for b in world.of_type("offer_expired")]:
        world.tick()  # the rungs run out: h1's offer expires unanswered
    world.accept("h1")  # the link still works: the late answer fills the slot
    assert [b.offer_id for b in world.of_type("helper_assigned")] == [offer]
    _, answers = _observed(world)
    assert answers[(ring, "expired")] == 1, answers
    assert answers[(ring, LATE)] == 1, answers
    assert not any(answer == "accepted" for _, answer in answers), answers  # old: unknown, 1
    _each_offer_ends_once(world, answers)


def test_an_accept_in_time_is_still_accepted(world: World) -> None:
    ring = _one_helper(world)
    world.accept("h1")
    _, answers = _observed(world)
    assert answers == {(ring, "accepted"): 1}, answers


def test_an_ended_offer_is_forgotten_when_its_request_closes(world: World) -> None:
    """Kept only while a late accept can come: the metrics do not grow with closed requests."""
    _one_helper(world)
    world.decline("h1")
    em, _ = _observed(world)
    assert em.remembered_offers >= 1
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    em.observe_all(world.events)
    assert em.remembered_offers == 0
