"""A "covered" stand-down (已有邻居接手，无需再来) is pushed only while it is true (session 40).

- A team member with their own open offer, signed up by their leader: the core stands that
  offer down as covered in the same decision that assigns them; they were pushed 无需再来
  beside 请尽快前往. The planner no longer pushes a covered stand-down to anyone holding an
  active assignment of the request.
- A stand-down waiting to retry (an outage, a throttle) went out whenever it got through:
  after the helper was asked again under the same offer id on a reopened slot, or after
  they accepted that. The notify agent's `still_wanted` now drops it once the offer is no
  longer stood down or its helper is assigned.
"""

from __future__ import annotations

from typing import Any

from dispatcher.push import EndpointKind, EndpointRegistry, PushKind
from dispatcher.push.messages import ASKED_AGAIN, OfferSpec, render_offer
from schemas.commands import Command, WithdrawHelper
from schemas.events import Event, stand_downs
from schemas.vocab import Category, Skill, Urgency
from streams.notify import Notifier
from tests.support.held_push import Refusing, held_then_let_through
from tests.unit.conftest import World
from tests.unit.test_core_party_teams import person
from tests.unit.test_core_team_members import _accept_naming, _carry, _team
from tests.unit.test_push_deliveries import planner, registry
from tests.unit.test_push_still_wanted_s38 import FAST, RELAY
from tests.unit.test_worker_notify import FakeClock, FaustEvent


def _pushes(world: World, events: Any, helper_id: str) -> list[tuple[str, str]]:
    p = planner(world, registry(("default", EndpointKind.WEBHOOK)))
    return [
        (e.body.type, d.kind.value)
        for e in events
        for d in p.plan(e).deliveries
        if d.recipient == helper_id
    ]


def test_a_member_signed_up_by_the_leader_is_not_told_no_need_to_come(world):
    _team(world)
    person(world, "member-near", teams=("帮帮团",), skills=[Skill.CARRYING])
    _carry(world, 3)
    assert "member-near" in world.offered()  # their own offer, open
    out = _accept_naming(world, "member-near")
    # The core still closes their own offer as covered (the record is right) ...
    [own] = [s for s in world.of_type("offer_stood_down", out) if s.helper_id == "member-near"]
    assert own.reason == "covered"
    # ... but the push they get is the sign-up alone (old: stand_down, then assignment).
    assert _pushes(world, out.events, "member-near") == [("helper_assigned", "assignment")]


def _building_of_two(world: World) -> None:
    for hid in ("a", "b"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    assert sorted(world.offered()) == ["a", "b"]


def _stand_down_event(out: Any, helper_id: str) -> Event:
    return next(
        e
        for e in out.events
        if e.body.type in ("offer_stood_down", "offers_stood_down")
        and any(s.helper_id == helper_id for s in _stood(e))
    )


def _stood(e: Event) -> list[Any]:
    return list(stand_downs(e.body))


async def _no_send(command: Command) -> None:
    return None


def test_others_stood_down_as_covered_are_still_told(world):
    """The filter takes only the assigned: a neighbour not going is told as before."""
    _building_of_two(world)
    out = world.accept("a")
    assert _pushes(world, [_stand_down_event(out, "b")], "b") == [
        (_stand_down_event(out, "b").body.type, "stand_down")
    ]


def test_a_stand_down_is_no_longer_wanted_once_its_helper_is_asked_again_or_goes(world):
    _building_of_two(world)
    out = world.accept("a")
    n = Notifier(planner(world, EndpointRegistry([RELAY])), _no_send, FakeClock())
    [push] = n.planner.plan(_stand_down_event(out, "b")).deliveries
    assert push.kind is PushKind.STAND_DOWN and push.recipient == "b"
    assert n.still_wanted(push)  # true: a went, b need not come
    world.later(60)
    again = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))  # 去不了了
    assert world.offered(again) == ["b"]  # asked again, the same offer id
    assert not n.still_wanted(push)  # old: sent, 无需再来 after the new ask
    world.accept("b")
    assert not n.still_wanted(push)  # old: sent, 无需再来 to the one on the way


def test_the_members_own_stand_down_is_not_wanted_while_they_are_assigned(world):
    """Were it planned (as before), the hook would drop it too: the member is going."""
    _team(world)
    person(world, "member-near", teams=("帮帮团",), skills=[Skill.CARRYING])
    _carry(world, 3)
    out = _accept_naming(world, "member-near")
    n = Notifier(planner(world, EndpointRegistry([RELAY])), _no_send, FakeClock())
    event = _stand_down_event(out, "member-near")
    [own] = [s for s in _stood(event) if s.helper_id == "member-near"]
    pushes = n.planner._stand_down(event, own, event.event_id)
    assert pushes and all(not n.still_wanted(p) for p in pushes)
    world.later(60)
    world.run(WithdrawHelper(request_id="req-1", helper_id="member-near"))
    # Withdrawn, they hold no assignment and their own offer is still stood down: true again.
    assert all(n.still_wanted(p) for p in pushes)


async def test_a_stand_down_held_by_an_outage_is_not_sent_after_the_re_ask() -> None:
    """The engine's retry, end to end in the notify agent: b's stand-down is refused (503)
    and waits; a withdraws and b is asked again; the endpoint recovers: the stand-down is
    dropped, not sent, and its event's record is still acknowledged."""
    world = World()
    _building_of_two(world)
    out = world.accept("a")
    sent: list[Command] = []

    async def send_command(command: Command) -> None:
        sent.append(command)

    n = Notifier(planner(world, EndpointRegistry([RELAY])), send_command, FakeClock())
    endpoint, record = Refusing(503), FaustEvent()

    def reopen() -> None:
        world.later(60)
        world.run(WithdrawHelper(request_id="req-1", helper_id="a"))  # b asked again

    refused = await held_then_let_through(
        n, endpoint, record, _stand_down_event(out, "b"), reopen, FAST
    )
    assert len(endpoint.calls) == refused  # old: 无需再来 sent after the re-ask
    assert record.acks == 1
    assert sent == []
    assert n.withdrawn == 1


# ---------------------------------------------------------------- the re-ask says so


def _offer_texts(p: Any, events: Any, helper_id: str) -> list[tuple[str, str]]:
    """Each event planned in order by the one planner `p` (as the notify agent does): the
    offers' title and text to `helper_id`."""
    return [
        (d.message.title, d.message.text)
        for e in events
        for d in p.plan(e).deliveries
        if d.recipient == helper_id and d.kind is PushKind.OFFER
    ]


def test_an_offer_asked_again_after_a_covered_stand_down_says_it_is_still_needed(world):
    """b was told 已有邻居接手…无需再来; a withdrew and b is asked again under the same
    offer id: before, word for word the first offer, read as a stray repeat."""
    _building_of_two(world)
    p = planner(world, registry(("default", EndpointKind.WEBHOOK)))
    [(first_title, first)] = _offer_texts(p, world.events, "b")
    assert ASKED_AGAIN not in first and first_title.endswith("邻居需要帮忙")
    out = world.accept("a")
    assert _pushes(world, out.events, "b") == [
        (_stand_down_event(out, "b").body.type, "stand_down")
    ]
    _offer_texts(p, out.events, "b")  # the stand-down, planned by the same planner
    world.later(60)
    again = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    [(title, text)] = _offer_texts(p, again.events, "b")
    assert title.endswith("仍需要您帮忙")  # old: the first offer's title
    assert text.splitlines()[1] == ASKED_AGAIN  # under the headline
    # The rest is the offer as it was: the same links (the same offer id), the same ask.
    assert [x for x in text.splitlines() if x != ASKED_AGAIN] == first.splitlines()


def test_a_first_offer_of_a_reopened_slot_is_no_re_ask(world):
    """Only a helper stood down as covered hears "still needed": one who declined and is
    not asked again, and a planner that never saw the stand-down (a restart), say nothing."""
    for hid in ("a", "b"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.helper("far", building="9", compound="other", grid="g2", skills=[Skill.DRIVING])
    world.submit()
    p = planner(world, registry(("default", EndpointKind.WEBHOOK)))
    _offer_texts(p, world.events, "b")
    world.decline("b")
    _offer_texts(p, world.accept("a").events, "b")
    world.later(60)
    again = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    assert world.offered(again) == ["far"]  # nobody covered to ask again: widened
    [(title, text)] = _offer_texts(p, again.events, "far")
    assert ASKED_AGAIN not in text and title.endswith("邻居需要帮忙")


def test_render_offer_asked_again_adds_the_line_and_its_title():
    spec = dict(
        category=Category.REPAIR,
        urgency=Urgency.URGENT,
        building="阳光花园 3号楼",
        accept_url="https://help.example/l/o/a",
        decline_url="https://help.example/l/o/d",
    )
    plain, again = render_offer(OfferSpec(**spec)), render_offer(OfferSpec(**spec, again=True))
    assert again.text.splitlines() == [
        plain.text.splitlines()[0],
        ASKED_AGAIN,
        *plain.text.splitlines()[1:],
    ]
    assert plain.title.endswith("，邻居需要帮忙")
    assert again.title == plain.title.replace("邻居需要帮忙", "仍需要您帮忙")
