"""A helper stood down as covered and asked again on a reopened slot (2713983) is asked
the same offer (one id, one record): it counts once (session 41).

- Their daily load: the re-ask went through `Effects.count_offers` like a new offer, so
  `offers_today` / `offers_total` rose again and their rank fell a little (fewer offers
  today ranks first) for an offer they had been sent already.
- The offer-answers metric: 来不了 pressed after the covered stand-down is recorded as a
  decline (396fbf2), and `dispatch_offer_answers` counted that offer twice, stood_down and
  declined (the second under ring "unknown"). The `OfferDeclined` now says it came after
  the stand-down (`after_stand_down`), and the metric leaves it out.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dispatcher.ops.event_metrics import EventMetrics
from dispatcher.ops.metric_defs import DispatchMetrics
from schemas.commands import WithdrawHelper
from schemas.vocab import Skill
from tests.unit.conftest import World


def _covered(world: World) -> None:
    """a, b asked; a took the slot: b stood down as covered."""
    for hid in ("a", "b"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    assert sorted(world.offered()) == ["a", "b"]
    world.accept("a")


def test_an_offer_asked_again_counts_once_in_the_helpers_load(world):
    _covered(world)
    load = world.state.helpers["b"].load
    assert (load.offers_today, load.offers_total) == (1, 1)
    world.later(60)
    again = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    assert world.offered(again) == ["b"]
    after = world.state.helpers["b"].load
    assert (after.offers_today, after.offers_total) == (1, 1)  # old: (2, 2)
    assert after == load


def test_a_new_offer_on_a_reopened_slot_still_counts(world):
    """Only the one asked again is spared: a helper first asked when the slot reopened
    (here, nobody covered left to ask: the ladder widens) counts as ever."""
    _covered(world)
    world.helper("far", building="9", compound="other", grid="g2", skills=[Skill.DRIVING])
    world.decline("b")
    world.later(60)
    again = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    assert world.offered(again) == ["far"]
    load = world.state.helpers["far"].load
    assert (load.offers_today, load.offers_total) == (1, 1)


def _answers(world: World) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    EventMetrics(DispatchMetrics.create(registry)).observe_all(world.events)
    return {
        (s.labels["ring"], s.labels["answer"]): s.value
        for m in registry.collect()
        for s in m.samples
        if s.name == "dispatch_offer_answers_total"
    }


def test_a_no_after_the_covered_stand_down_is_not_a_second_answer(world):
    _covered(world)
    out = world.decline("b")
    answers = _answers(world)
    # a's accept and b's stand-down: one answer each offer (old: and b's decline again).
    assert sum(answers.values()) == 2, answers
    assert not any(answer == "declined" for _, answer in answers), answers
    [no] = world.of_type("offer_declined", out)
    assert no.after_stand_down


def test_a_plain_decline_is_still_an_answer(world):
    for hid in ("a", "b"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    out = world.decline("b")
    assert sum(v for (_, answer), v in _answers(world).items() if answer == "declined") == 1
    [no] = world.of_type("offer_declined", out)
    assert not no.after_stand_down
    assert '"after_stand_down"' not in next(  # False: left out, the bytes as before
        e.body.model_dump_json() for e in out.events if e.body.type == "offer_declined"
    )
