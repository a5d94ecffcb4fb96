"""A helper stood down as covered and asked again on a reopened slot (2713983): the offer
event says which ask it is (session 41).

`WaveOffer.again` (and the offer record's) counts the times the offer was sent again after a
covered stand-down, 0 on a first ask and on every event from before it (left out of the JSON
then: older events read as before, first asks keep their bytes). From it:
- the push says "之前接单的邻居去不了了，仍需要您帮忙" from the event, not from the notify
  planner's memory of the stand-downs it planned (lost at a restart, when a re-ask read as a
  first offer);
- the push's links carry the ask (`LinkClaims.again`), so a press has a use and a command id
  of that ask's own (tests/integration/test_reask_link_lag_s41.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from dispatcher.api.offer_outcomes import use_for
from dispatcher.links import action_links, offer_token, verify_token
from dispatcher.push import EndpointKind, PushKind
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.push.messages import ASKED_AGAIN
from dispatcher.settings import Settings
from schemas.commands import WithdrawHelper
from schemas.events import Event, OffersSent, WaveOffer
from schemas.vocab import Skill
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import planner, registry

S = Settings(public_base_url="https://help.example.cn/", link_secret=SecretStr("s" * 32))


def _three_covered(world: World) -> None:
    """a, b, c asked; a took the slot: b and c stood down as covered."""
    for hid in ("a", "b", "c"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    assert sorted(world.offered()) == ["a", "b", "c"]
    world.accept("a")


def _withdraw(world: World, helper_id: str) -> Any:
    world.later(60)
    return world.run(WithdrawHelper(request_id="req-1", helper_id=helper_id))


def _again(decision: Any) -> dict[str, int]:
    return {
        o.helper_id: o.again
        for e in decision.events
        if isinstance(e.body, OffersSent)
        for o in e.body.offers
    }


def _re_ask_events(world: World) -> list[Event]:
    _three_covered(world)
    return list(_withdraw(world, "a").events)


def test_the_re_ask_says_which_ask_it_is_and_a_first_ask_keeps_its_bytes(world):
    _three_covered(world)
    [first] = [e for e in world.events if isinstance(e.body, OffersSent)]
    assert '"again"' not in first.body.model_dump_json()  # 0: left out, as before
    again = _withdraw(world, "a")
    assert _again(again) == {"b": 1, "c": 1}
    # b takes it, c is stood down again; b withdraws: c's third ask says so.
    world.accept("b")
    assert _again(_withdraw(world, "b")) == {"c": 2}
    assert {o.helper_id: o.again for o in world.request().offers}["c"] == 2
    # An event from before the field reads as a first ask.
    old = first.body.model_dump(mode="json")
    assert WaveOffer.model_validate(old["offers"][0]).again == 0


def test_a_planner_that_never_saw_the_stand_down_says_it_is_still_needed(world):
    """A notify worker restarted (or given the partition) between the stand-down and the
    re-ask: before, its memory of stand-downs was empty and the re-ask read as a first
    offer ('…邻居需要帮忙', no line)."""
    events = _re_ask_events(world)
    fresh = planner(world, registry(("default", EndpointKind.WEBHOOK)))
    texts = [
        (d.message.title, d.message.text)
        for e in events
        for d in fresh.plan(e).deliveries
        if d.recipient == "b" and d.kind is PushKind.OFFER
    ]
    [(title, text)] = texts
    assert title.endswith("仍需要您帮忙"), title
    assert text.splitlines()[1] == ASKED_AGAIN


def test_the_re_ask_push_links_answer_that_ask(world):
    """The links pushed with the re-ask name it: their use (and so the press's command id)
    is not the first ask's, without the API reading the event log."""
    events = _re_ask_events(world)
    real = DeliveryPlanner(
        registry=registry(("default", EndpointKind.WEBHOOK)),
        helper=world.state.helpers.get,
        request=world.state.requests.get,
        offer_links=lambda **kw: action_links(S, **kw),
        keys=planner(world, registry()).keys,
        public_base_url="https://help.example.cn/",
        default_endpoint="default",
    )
    [push] = [
        d
        for e in events
        for d in real.plan(e).deliveries
        if d.recipient == "b" and d.kind is PushKind.OFFER
    ]
    token = push.data["accept_url"].rsplit("/", 1)[1]
    claims = verify_token(S, token, world.now)
    offer_id = world.offer_id("b")
    assert (claims.offer_id, claims.again) == (offer_id, 1)
    first_use = use_for("accept", "req-1", offer_id, "b")
    use = use_for("accept", "req-1", offer_id, "b", claims.again)
    assert claims.use_key == use.use_key == f"accept:{offer_id}@2"
    assert use.command_id != first_use.command_id


@pytest.mark.parametrize("again", [0, 1, 2])
def test_action_links_write_the_ask_as_offer_token_does(again: int, monkeypatch) -> None:
    claims: dict[str, Any] = {
        "request_id": "r1",
        "offer_id": "o1",
        "helper_id": "h1",
        "community_id": "c1",
        "expires_at": datetime(2026, 12, 7, 20, tzinfo=UTC) + timedelta(hours=1),
        "again": again,
    }

    def counting() -> None:  # the same nonces for both ways of writing the tokens
        counter = iter(range(1 << 30))
        monkeypatch.setattr("os.urandom", lambda n: next(counter).to_bytes(4, "big") * (n // 4))

    counting()
    links = action_links(S, **claims)
    counting()
    tokens = [offer_token(S, action=a, **claims) for a in ("accept", "decline")]
    assert [links[a].rsplit("/", 1)[1] for a in ("accept", "decline")] == tokens
    seen = verify_token(S, tokens[0], datetime(2026, 12, 7, 20, tzinfo=UTC))
    assert seen.again == again
    assert seen.use_key == ("accept:o1" if not again else f"accept:o1@{again + 1}")
