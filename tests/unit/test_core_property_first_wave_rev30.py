"""Property management (物业) hears of what is theirs in the first wave (review finding: the
classifier's `notify_property` was read by nobody, so for "楼道着火了" 物业 was never
offered and for a burst pipe it first heard at the whistle, 30 minutes later).

A request flagged `notify_property` offers the community's on-duty property management at
t=0, nearest first, as many as the plan's whistle would reach; they may fill any slot. The
neighbours are dispatched exactly as without the flag, nothing is whistled and the
emergency advice is unchanged."""

from __future__ import annotations

from itertools import product
from typing import Any

from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.models import ChatMessageIn
from dispatcher.classify import classify
from dispatcher.core import Decision, DispatchState
from dispatcher.groupchat.bots import GroupPlace
from schemas.commands import SetHelperStatus, SubmitRequest
from schemas.plans import DEFAULT_PLANS
from schemas.requests import RequestSpec
from schemas.vocab import Category, Ring, Role, Skill, Urgency
from tests.unit.conftest import COMMUNITY, World

FIRE = "楼道着火了"
BURST_PIPE = "楼上水管爆了，水漫到楼道了，谁会修？"
ERRAND = "谁能帮忙去药店买点退烧药？"
GROUP = GroupPlace(
    community_id=COMMUNITY,
    grid_id="g1",
    compound_id="tuqiang",
    compound_name="图强小区",
    building_id="3",
)
PROPERTY = "wuye"


def chat_spec(text: str, **update: Any) -> RequestSpec:
    """The spec a chat message makes (the classifier's verdict, the group's place)."""
    msg = ChatMessageIn(group_id="g", message_id="m1", sender={"id": "u1"}, text=text)
    spec = spec_for_message(msg, classify(text), GROUP, request_id="req-1", bot_id="b")
    return spec.model_copy(update=update)


def neighbourhood(*, plumbers: int = 1, property_staff: int = 1) -> World:
    """Plumbers in other buildings of the compound, a neighbour, a community worker, and
    物业 of the compound."""
    w = World()
    w.state = DispatchState(plans=DEFAULT_PLANS)
    for n in range(plumbers):
        helper_id = "plumber" if n == 0 else f"plumber-{n}"
        w.helper(helper_id, building=str(5 + n * 10), skills=[Skill.PLUMBING, Skill.GENERAL])
    w.helper("neighbour", building="7", skills=[Skill.GENERAL, Skill.ERRANDS])
    w.helper("staff", building="9", compound="x", grid="g9", roles=[Role.COMMUNITY_STAFF])
    for n in range(property_staff):
        helper_id = PROPERTY if n == 0 else f"{PROPERTY}-{n}"
        w.helper(helper_id, building="0", roles=[Role.PROPERTY_MANAGEMENT])
    return w


def neighbours_story(
    w: World, spec: RequestSpec, *, declining: bool, hours: float = 3
) -> list[tuple[Any, ...]]:
    """Every decision to the end, 物业's own offers left out: what the neighbours and the
    ladder saw. `declining`: each neighbour declines as soon as asked (物业 never answers)."""
    story: list[tuple[Any, ...]] = []
    start = w.now
    decisions = [w.run(SubmitRequest(spec=spec))]
    while decisions:
        decision = decisions.pop(0)
        for e in decision.events:
            body = e.body
            if body.type == "offers_sent":
                asked = tuple(
                    o.helper_id for o in body.offers if not o.helper_id.startswith(PROPERTY)
                )
                if asked:
                    story.append(("offers", asked))
            elif getattr(body, "helper_id", "").startswith(PROPERTY):
                continue
            else:
                story.append((body.type, round((w.now - start).total_seconds())))
        if decisions:
            continue
        asked = [o.helper_id for o in w.request().offers if o.status == "open"]
        if declining and (neighbours := [h for h in asked if not h.startswith(PROPERTY)]):
            decisions.append(w.decline(neighbours[0]))
        elif not w.request().terminal and (w.now - start).total_seconds() < hours * 3600:
            decisions.append(w.tick())
    return story


def first_wave(text: str, category: Category, urgency: Urgency) -> tuple[World, Decision]:
    """The chat message's request, classified as said and flagged, submitted."""
    spec = chat_spec(text)
    assert (spec.category, spec.urgency, spec.notify_property) == (category, urgency, True)
    w = neighbourhood()
    return w, w.run(SubmitRequest(spec=spec))


def test_a_fire_in_the_stairwell_offers_property_management_at_once() -> None:
    w, decision = first_wave(FIRE, Category.OTHER, Urgency.CRITICAL)
    offers = {o.helper_id: o for o in w.of_type("offer_sent", decision)}
    assert PROPERTY in offers and offers[PROPERTY].ring is Ring.WHISTLE
    assert "plumber" in offers and "neighbour" in offers  # the neighbours too, as before
    assert "staff" not in offers  # the whistle's people wait for the whistle
    assert not w.of_type("whistle_blown", decision)
    [advised] = w.of_type("emergency_call_advised", decision)
    assert advised.number == "119"  # the advice is unchanged


def test_a_burst_pipe_offers_property_management_at_once_not_at_the_whistle() -> None:
    w, decision = first_wave(BURST_PIPE, Category.REPAIR, Urgency.URGENT)
    assert PROPERTY in w.offered(decision)
    assert not w.of_type("whistle_blown", decision)
    # At the whistle the staff are offered; 物业, asked already, is not asked twice.
    while not w.of_type("whistle_blown", decision):
        decision = w.tick()
    [whistle] = w.of_type("whistle_blown", decision)
    assert whistle.staff_helper_ids == ("staff",)
    assert [o.helper_id for o in w.request().offers].count(PROPERTY) == 1


def test_an_errand_does_not_bother_property_management() -> None:
    spec = chat_spec(ERRAND)
    assert not spec.notify_property
    w = neighbourhood()
    decision = w.run(SubmitRequest(spec=spec))
    assert w.offered(decision) and PROPERTY not in w.offered(decision)


def test_the_neighbours_are_dispatched_exactly_as_without_the_flag() -> None:
    """The ladder climbs at the same times through the same neighbours: 物业's open offer
    does not count as someone answering (an empty ring still climbs at once), and its
    expiry or decline brings no neighbour in its place."""
    for text, plumbers, declining in product((FIRE, BURST_PIPE), (1, 5), (False, True)):
        flagged = chat_spec(text)
        plain = chat_spec(text, notify_property=False)
        story = neighbours_story(neighbourhood(plumbers=plumbers), flagged, declining=declining)
        again = neighbours_story(neighbourhood(plumbers=plumbers), plain, declining=declining)
        assert story == again, (text, plumbers, declining)
        assert ("offer_declined", 0) in story or not declining


def test_a_declined_property_offer_brings_no_neighbour_in_its_place() -> None:
    w = neighbourhood(plumbers=5)  # the compound's wave asks three of them
    w.run(SubmitRequest(spec=chat_spec(BURST_PIPE)))
    before = len(w.request().offers)
    decision = w.decline(PROPERTY)
    assert not w.offered(decision) and len(w.request().offers) == before
    assert not w.of_type("ring_escalated", decision)


def test_a_neighbours_decline_climbs_at_once_while_property_still_may_answer() -> None:
    """The only plumber declines: nobody who can is left, so the ladder climbs now (here to
    the whistle), as it does without 物业's offer, which stays open."""
    for flag in (True, False):
        w = neighbourhood()
        w.run(SubmitRequest(spec=chat_spec(BURST_PIPE, notify_property=flag)))
        assert w.request().plan.steps[w.request().step].ring is Ring.COMPOUND
        decision = w.decline("plumber")
        climbed = [e.to_ring for e in w.of_type("ring_escalated", decision)]
        assert climbed == [Ring.GRID, Ring.COMMUNITY, Ring.WHISTLE], flag
        # 物业: asked in the first wave with the flag, else only by the whistle.
        asked = [o.step for o in w.request().offers if o.helper_id == PROPERTY]
        assert asked == ([2] if flag else [5])


def test_property_management_may_fill_any_slot() -> None:
    w = neighbourhood()
    w.run(SubmitRequest(spec=chat_spec(BURST_PIPE, skills=(Skill.PLUMBING,))))
    decision = w.accept(PROPERTY)
    [assigned] = w.of_type("helper_assigned", decision)
    assert assigned.helper_id == PROPERTY


def test_as_many_as_the_whistle_reaches_and_their_own_compounds_first() -> None:
    w = neighbourhood(property_staff=7)
    w.helper("wuye-far", building="1", compound="far", grid="g2", roles=[Role.PROPERTY_MANAGEMENT])
    decision = w.run(SubmitRequest(spec=chat_spec(FIRE)))
    asked = [h for h in w.offered(decision) if h.startswith(PROPERTY)]
    whistle = [s for s in DEFAULT_PLANS[Urgency.CRITICAL].steps if s.ring is Ring.WHISTLE]
    assert len(asked) == whistle[0].wave_size == 5
    assert "wuye-far" not in asked  # another compound's 物业 only when its own are fewer


def test_an_away_property_manager_is_not_offered() -> None:
    w = neighbourhood()
    w.run(SetHelperStatus(helper_id=PROPERTY, away=True))
    decision = w.run(SubmitRequest(spec=chat_spec(FIRE)))
    assert PROPERTY not in w.offered(decision)
