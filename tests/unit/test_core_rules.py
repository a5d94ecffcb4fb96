"""One test per matching / ladder / state-machine rule."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.core import DispatchState, decide
from dispatcher.core.context import SearchContext
from dispatcher.core.eligibility import ring_of
from dispatcher.core.entry import HelperEntry
from schemas.commands import (
    CancelRequest,
    DeactivateHelper,
    FireDeadline,
    ReferRequest,
    ReportDeliveryFailure,
    ResolveRequest,
    SetHelperStatus,
    WithdrawHelper,
)
from schemas.records import OfferStatus, RequestStatus
from schemas.vocab import (
    Category,
    EmergencyNumber,
    Gender,
    Party,
    ReferralTarget,
    Ring,
    Role,
    Skill,
    Urgency,
)
from tests.unit.conftest import REFERENCE_PLANS

# --- places and rings -------------------------------------------------------------------


def test_ring_of_each_level(world):
    world.helper("paired", building="9", compound="far", grid="g9", paired=["hh-requester"])
    world.helper("same-building")
    world.helper("same-compound", building="8")
    world.helper("same-grid", building="1", compound="next")
    world.helper("community", building="1", compound="other", grid="g7")
    world.submit(urgency=Urgency.LOW, skills=())
    ctx = SearchContext.for_request(world.request(), world.now)
    rings = {
        hid: ring_of(HelperEntry.from_profile(world.state.helpers[hid].profile), ctx)
        for hid in world.state.helpers
    }
    assert rings == {
        "paired": Ring.PAIRED,
        "same-building": Ring.BUILDING,
        "same-compound": Ring.COMPOUND,
        "same-grid": Ring.GRID,
        "community": Ring.COMMUNITY,
    }


def test_building_ids_are_scoped_by_compound(world):
    world.helper("other-compound-building-3", building="3", compound="other")
    decision = world.submit(urgency=Urgency.CRITICAL, skills=())
    # Building "3" of another compound is not her building: the building ring is empty, so
    # the ladder climbs at once and reaches this helper only from a wider ring.
    offers = world.of_type("offer_sent", decision)
    assert [o.helper_id for o in offers] == ["other-compound-building-3"]
    assert offers[0].ring is not Ring.BUILDING and offers[0].ring is not Ring.COMPOUND


def test_an_empty_ring_is_skipped_at_once(world):
    world.helper("grid-neighbour", compound="next-door", skills=[Skill.DRIVING])
    decision = world.submit(urgency=Urgency.URGENT, skills=[Skill.DRIVING])
    # Urgent starts with paired helpers (none), then building and compound (empty): the
    # grid neighbour is offered in the first second, not after three waits.
    escalations = world.of_type("ring_escalated", decision)
    assert [e.to_ring for e in escalations][-1] is Ring.GRID
    assert world.offered(decision) == ["grid-neighbour"]
    assert world.request().step == 3


def test_last_candidate_failing_widens_the_ring_now(world):
    world.helper("only-in-building", skills=[Skill.DRIVING])
    world.helper("in-compound", building="9", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.CRITICAL, skills=[Skill.DRIVING])
    assert world.offered() == ["only-in-building"]
    from schemas.commands import ReportDeliveryFailure

    offer_id = world.offer_id("only-in-building")
    decision = world.run(
        ReportDeliveryFailure(
            request_id="req-1", offer_id=offer_id, helper_id="only-in-building", reason="HTTP 410"
        )
    )
    assert world.offered(decision) == ["in-compound"]  # not after the 30 s building wait


def test_partial_fill_taking_the_rings_last_offer_widens_now(world):
    world.helper("only-in-building", skills=[Skill.DRIVING])
    world.helper("in-compound", building="9", skills=[Skill.DRIVING])
    world.submit(helpers_needed=2)
    assert world.offered() == ["only-in-building"]
    d = world.accept("only-in-building")
    # One slot still open and nobody left to ask in the building: the compound now.
    assert [e.to_ring for e in world.of_type("ring_escalated", d)] == [Ring.COMPOUND]
    assert world.offered(d) == ["in-compound"]
    assert world.request().status is RequestStatus.OPEN


def test_withdrawal_with_nobody_left_in_the_ring_widens_now(world):
    world.helper("only-in-building", skills=[Skill.DRIVING])
    world.helper("in-compound", building="9", skills=[Skill.DRIVING])
    world.submit()
    world.accept("only-in-building")
    assert world.request().status is RequestStatus.FILLED
    d = world.run(WithdrawHelper(request_id="req-1", helper_id="only-in-building"))
    assert [e.to_ring for e in world.of_type("ring_escalated", d)] == [Ring.COMPOUND]
    assert world.offered(d) == ["in-compound"]


def test_helpers_of_another_community_are_never_offered(world):
    world.helper("local", skills=[Skill.DRIVING])
    # Same compound/building names in a different community.
    from schemas.commands import UpsertHelper
    from schemas.helpers import HelperProfile

    other = HelperProfile(
        helper_id="elsewhere",
        place=world.place(community="another-community"),
        skills=(Skill.DRIVING,),
    )
    cmd = world.command(UpsertHelper(profile=other))
    cmd = cmd.model_copy(update={"community_id": "another-community"})
    world.run(cmd)
    world.submit()
    assert world.offered() == ["local"]


# --- availability -----------------------------------------------------------------------


def test_never_the_requester_by_id_or_phone(world):
    world.helper("me", skills=[Skill.DRIVING])
    world.helper("my-other-phone", skills=[Skill.DRIVING], phone="+86 138-0000-0000")
    world.helper("neighbour", skills=[Skill.DRIVING])
    world.submit(requester_helper_id="me")
    assert world.offered() == ["neighbour"]


def test_away_busy_and_inactive_helpers_are_skipped(world):
    for hid in ("away", "busy", "gone", "free"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.run(SetHelperStatus(helper_id="away", away=True))
    world.run(SetHelperStatus(helper_id="busy", busy=True))
    world.run(DeactivateHelper(helper_id="gone"))
    world.submit()
    assert world.offered() == ["free"]


def test_weekly_availability_window_in_local_time(world):
    evenings = world.window("18:00", "22:00")
    mornings = world.window("07:00", "09:00")
    from schemas.helpers import WeeklyWindow

    world.helper("evening", skills=[Skill.DRIVING], availability=[WeeklyWindow(window=evenings)])
    world.helper("morning", skills=[Skill.DRIVING], availability=[WeeklyWindow(window=mornings)])
    weekend = WeeklyWindow(weekdays=(5, 6), window=evenings)
    world.helper("weekend", skills=[Skill.DRIVING], availability=[weekend])
    world.submit()  # Tuesday 20:00 in Xiamen
    assert world.offered() == ["evening"]


def test_do_not_disturb_is_respected_unless_critical(world):
    night = world.window("19:00", "07:00")
    world.helper("sleeper", skills=[Skill.DRIVING], dnd=night)
    world.helper("awake", skills=[Skill.DRIVING])
    world.submit("urgent", urgency=Urgency.URGENT, skills=(Skill.DRIVING,))
    world.tick("urgent")  # paired rung → building rung
    assert world.offered() == ["awake"]
    world.submit("critical", urgency=Urgency.CRITICAL)
    assert set(world.offered()) == {"awake", "sleeper"}


def test_dnd_override_until(world):
    world.helper("on-call", skills=[Skill.DRIVING], dnd=world.window("19:00", "07:00"))
    world.run(
        SetHelperStatus(helper_id="on-call", dnd_override_until=world.now + timedelta(hours=3))
    )
    world.submit(urgency=Urgency.URGENT)
    world.tick()
    assert world.offered() == ["on-call"]


# --- ranking ----------------------------------------------------------------------------


def test_skill_fit_only_skilled_helpers_outside_pairing(world):
    world.helper("driver", skills=[Skill.DRIVING])
    world.helper("cook", skills=[Skill.ELDER_CARE])
    world.submit()
    assert world.offered() == ["driver"]


def test_party_members_first_when_the_request_asks(world):
    for hid in ("a-volunteer", "b-volunteer", "z-party"):
        world.helper(hid, skills=[Skill.DRIVING], party=hid.endswith("party"))
    world.submit("plain")
    assert world.offered()[0] == "a-volunteer"
    world.events.clear()
    world.submit("party", prefer_party_member=True)
    assert world.offered()[0] == "z-party"


def test_gender_preference_ranks_but_does_not_exclude(world):
    world.helper("a-man", skills=[Skill.DRIVING], gender=Gender.MALE)
    world.helper("z-woman", skills=[Skill.DRIVING], gender=Gender.FEMALE)
    world.submit(prefer_gender=Gender.FEMALE)
    assert world.offered() == ["z-woman", "a-man"]


def test_fairness_todays_load_then_time_since_last_offered(world):
    for hid in ("a", "b", "c"):
        world.helper(hid, skills=[Skill.DRIVING])
    plan = REFERENCE_PLANS[Urgency.CRITICAL]
    small = plan.model_copy(
        update={"steps": (plan.steps[0].model_copy(update={"wave_size": 1}), *plan.steps[1:])}
    )
    world.state.plans = {**REFERENCE_PLANS, Urgency.CRITICAL: small}
    order = []
    for i in range(3):
        world.events.clear()
        world.submit(f"r{i}")
        order += world.offered()
        world.later(60)
    assert order == ["a", "b", "c"]  # each request goes to the least-loaded helper


def test_responsiveness_breaks_ties_within_equal_load(world):
    world.helper("a-slow", skills=[Skill.DRIVING])
    world.helper("b-keen", skills=[Skill.DRIVING])
    from schemas.records import HelperLoad

    for hid, load in (
        ("a-slow", HelperLoad(declined_total=5)),
        ("b-keen", HelperLoad(accepted_total=5)),
    ):
        h = world.state.helpers[hid].model_copy(update={"load": load})
        from dispatcher.core import Decision, apply

        apply(world.state, Decision(helpers={hid: h}))
    world.submit()
    assert world.offered() == ["b-keen", "a-slow"]


# --- ladder -----------------------------------------------------------------------------


def test_plan_is_snapshotted_onto_the_request(world):
    world.helper("a", skills=[Skill.DRIVING])  # an offer pending: the building rung waits
    world.submit()
    world.state.plans = {}  # config changed: the running request keeps its own plan
    assert world.request().plan == REFERENCE_PLANS[Urgency.CRITICAL]
    world.tick()
    r = world.request()
    assert r.step == 1
    assert (world.now - r.created_at).total_seconds() == r.plan.steps[0].wait_s


def test_critical_first_offers_immediately_then_widens_every_30_to_60s(world):
    world.helper("b", skills=[Skill.DRIVING])
    world.helper("c", building="8", skills=[Skill.DRIVING])
    d = world.submit()
    assert world.offered(d) == ["b"]
    r = world.request()
    wait = (r.next_deadline - r.created_at).total_seconds()
    assert 30 <= wait <= 60
    d = world.tick()
    assert world.of_type("ring_escalated", d)[0].to_ring is Ring.COMPOUND
    assert world.offered(d) == ["c"]


def test_stale_deadline_is_a_no_op(world):
    world.submit()
    world.tick()  # now on step 1
    assert not world.run(FireDeadline(request_id="req-1", step=0)).changed


def test_early_deadline_does_nothing(world):
    world.helper("a", skills=[Skill.DRIVING])  # an offer pending: the building rung waits
    world.submit()
    world.later(REFERENCE_PLANS[Urgency.CRITICAL].steps[0].wait_s - 1)
    assert not world.run(FireDeadline(request_id="req-1", step=0)).changed
    assert world.request().step == 0


def test_emergency_rung_refers_but_keeps_the_request_open(world):
    world.submit()
    while not world.of_type("referred_to_emergency"):
        world.tick()
    assert world.of_type("referred_to_emergency")[0].to is ReferralTarget.AMBULANCE
    assert world.request().status is RequestStatus.OPEN


def test_offer_without_answer_expires_and_is_replaced(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.helper("b", building="8", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.LOW)  # building rung for an hour, offers live 12 h
    assert world.offered() == ["a"]
    world.later(REFERENCE_PLANS[Urgency.LOW].offer_ttl_s)
    world.run(FireDeadline(request_id="req-1", step=world.request().deadline_step))
    assert [b.helper_id for b in world.of_type("offer_expired")] == ["a"]


def test_decline_counts_and_brings_a_replacement(world):
    for hid in ("a", "b", "c", "d", "e"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    assert world.offered() == ["a", "b", "c", "d"]
    d = world.decline("a")
    assert world.offered(d) == ["e"]
    assert world.state.helpers["a"].load.declined_total == 1


def test_delivery_failed_is_treated_as_no_answer_now(world):
    for hid in ("a", "c", "d", "e", "f"):  # five in her building; the wave asks four
        world.helper(hid, skills=[Skill.DRIVING])
    world.helper("b", building="8", skills=[Skill.DRIVING])
    world.submit()
    assert world.offered() == ["a", "c", "d", "e"]
    d = world.run(
        ReportDeliveryFailure(
            request_id="req-1", offer_id=world.offer_id("a"), helper_id="a", reason="410"
        )
    )
    assert world.of_type("offer_failed", d)[0].helper_id == "a"
    assert world.state.helpers["a"].load.no_answer_total == 1
    # Replaced at once from the same ring, not after the offer's ten minutes; offers are
    # still pending, so the ladder does not climb to the compound (b) before its time.
    assert world.offered(d) == ["f"]
    assert world.of_type("ring_escalated", d) == []
    assert world.request().step == 0


def test_withdrawal_reopens_the_slot(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.helper("b", skills=[Skill.DRIVING])
    world.helper("c", skills=[Skill.DRIVING])
    world.submit()
    world.accept("a")
    assert world.request().status is RequestStatus.FILLED
    d = world.run(WithdrawHelper(request_id="req-1", helper_id="a", no_show=True))
    assert world.of_type("helper_withdrawn", d)[0].slot == 0
    assert world.request().status is RequestStatus.OPEN
    assert world.state.helpers["a"].load.no_show_total == 1
    # b and c were stood down ("covered") but may still answer their offer.
    world.accept("c")
    assert world.request().status is RequestStatus.FILLED
    assert [a.helper_id for a in world.request().assignments if a.active] == ["c"]


def test_cancel_stands_down_open_offers_and_assigned_helpers(world):
    for hid in ("a", "b"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit(helpers_needed=2, skills=(Skill.DRIVING,))
    world.helper("late", skills=[Skill.DRIVING])
    world.accept("a")
    d = world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER, reason="好了"))
    stood = {(s.helper_id, s.was_assigned) for s in world.of_type("offer_stood_down", d)}
    assert stood == {("a", True), ("b", False)}
    assert world.request().status is RequestStatus.CANCELLED
    assert world.request().next_deadline is None


def test_refer_ends_the_request(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    d = world.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    assert world.request().status is RequestStatus.REFERRED
    assert [s.reason for s in world.of_type("offer_stood_down", d)] == ["referred"]


def test_accept_after_the_end_is_rejected(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    world.run(CancelRequest(request_id="req-1", by=Party.STAFF))
    d = world.accept("a")
    assert world.of_type("command_rejected", d)[0].reason == "request_closed"


def test_only_the_offer_holder_can_accept_it(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.helper("b", skills=[Skill.DRIVING])
    world.submit()
    from schemas.commands import AcceptOffer

    d = world.run(AcceptOffer(request_id="req-1", offer_id=world.offer_id("a"), helper_id="b"))
    assert world.of_type("command_rejected", d)[0].reason == "not_your_offer"
    assert world.request().assignments == ()


def test_helper_resolve_requires_an_assignment(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    d = world.run(ResolveRequest(request_id="req-1", by=Party.HELPER, helper_id="a"))
    assert world.of_type("command_rejected", d)[0].reason == "not_assigned"
    world.accept("a")
    world.run(ResolveRequest(request_id="req-1", by=Party.HELPER, helper_id="a"))
    assert world.request().status is RequestStatus.RESOLVED


def test_lifetime_bound_closes_an_assigned_request(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    world.accept("a")
    world.tick()
    assert world.now == world.request().ends_at
    assert world.request().status is RequestStatus.RESOLVED
    assert world.request().closed_by is Party.SYSTEM


def test_unknown_request_is_rejected(world):
    d = world.run(CancelRequest(request_id="nope", by=Party.STAFF))
    assert world.of_type("command_rejected", d)[0].reason == "unknown_request"


def test_non_life_threatening_requests_get_no_120_advice(world):
    world.submit(category=Category.REPAIR, urgency=Urgency.CRITICAL, skills=(Skill.PLUMBING,))
    assert world.of_type("emergency_call_advised") == []
    world.submit("lost", category=Category.LOST_PERSON, life_threatening=True)
    assert [a.number for a in world.of_type("emergency_call_advised")] == ["110"]


def test_the_number_the_words_named_is_advised_and_referred_to(world):
    """A fire reported as `other` (the classifier's 119): the requester is told 119, not the
    ambulance, and the ladder's emergency rung refers it to 119 (it read only the kind)."""
    world.submit(
        category=Category.OTHER, life_threatening=True, emergency_number=EmergencyNumber.FIRE
    )
    [advised] = world.of_type("emergency_call_advised")
    assert advised.number == "119" and "119火警" in advised.message
    assert "急救" not in advised.message
    while not world.of_type("referred_to_emergency"):
        world.tick()
    assert world.of_type("referred_to_emergency")[0].to is ReferralTarget.FIRE


# --- idempotency, ids, purity, storage -----------------------------------------------


def test_duplicate_command_is_a_no_op(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.helper("b", skills=[Skill.DRIVING])
    world.submit()
    cmd = world.command(
        __import__("schemas.commands", fromlist=["AcceptOffer"]).AcceptOffer(
            request_id="req-1", offer_id=world.offer_id("a"), helper_id="a"
        )
    )
    assert world.run(cmd).changed
    assert not world.run(cmd).changed
    # The same accept with a new command id (a double tap) is also harmless.
    assert not world.accept("a").changed
    # A re-submitted request is one request.
    assert not world.submit().changed


def test_decide_is_pure_and_event_ids_are_deterministic(world):
    world.helper("a", skills=[Skill.DRIVING])
    cmd = world.command(
        __import__("schemas.commands", fromlist=["SubmitRequest"]).SubmitRequest(spec=world.spec())
    )
    first = decide(world.state, cmd, world.now)
    again = decide(world.state, cmd, world.now)
    assert world.state.requests == {}  # decide stored nothing
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
    assert len({e.event_id for e in first.events}) == len(first.events)
    assert all(e.caused_by == cmd.command_id for e in first.events)


def test_offers_carry_no_personal_data(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    for event in world.events:
        if event.body.type == "helper_assigned":
            continue
        text = event.model_dump_json()
        assert "13800000000" not in text and "501" not in text and "hh-requester" not in text
    world.accept("a")
    assigned = world.of_type("helper_assigned")[0]
    assert "13800000000" not in repr(assigned)


def test_rebuild_from_stored_records_gives_the_same_decisions(world):
    for hid in ("a", "b", "c", "d", "e"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    world.decline("a")
    stored_h = [
        type(h).model_validate_json(h.model_dump_json()) for h in world.state.helpers.values()
    ]
    stored_r = [
        type(r).model_validate_json(r.model_dump_json()) for r in world.state.requests.values()
    ]
    rebuilt = DispatchState.rebuild(reversed(stored_h), stored_r)
    cmd = world.command(FireDeadline(request_id="req-1", step=0))
    later = world.request().next_deadline
    assert decide(rebuilt, cmd, later).events == decide(world.state, cmd, later).events


def test_deadlines_and_prune(world):
    world.helper("a", skills=[Skill.DRIVING])  # an offer pending: the building rung waits
    world.submit()
    [deadline] = world.state.due_deadlines(world.now + timedelta(seconds=30))
    assert (deadline.request_id, deadline.step) == ("req-1", 0)
    world.run(CancelRequest(request_id="req-1", by=Party.STAFF))
    assert world.state.deadlines() == []
    assert world.state.prune(world.now + timedelta(hours=1)) == []
    assert world.state.prune(world.now + timedelta(days=2)) == ["req-1"]


def test_helper_commands_keep_load_and_reject_unknown(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    assert world.state.helpers["a"].load.offers_today == 1
    world.helper("a", skills=[Skill.DRIVING, Skill.CARRYING])  # roster update
    assert world.state.helpers["a"].load.offers_today == 1
    d = world.run(SetHelperStatus(helper_id="ghost", away=True))
    assert world.of_type("command_rejected", d)[0].reason == "unknown_helper"


def test_whistle_includes_property_only_for_repairs(world):
    world.helper("staff", building="o", compound="o", roles=[Role.COMMUNITY_STAFF])
    world.helper("wuye", building="o", compound="o", roles=[Role.PROPERTY_MANAGEMENT])
    world.submit()
    while not world.of_type("whistle_blown"):
        world.tick()
    assert world.of_type("whistle_blown")[0].staff_helper_ids == ("staff",)


def test_offer_statuses_after_fill(world):
    world.helper("a", skills=[Skill.DRIVING])
    world.helper("b", skills=[Skill.DRIVING])
    world.submit()
    world.accept("b")
    statuses = {o.helper_id: o.status for o in world.request().offers}
    assert statuses == {"a": OfferStatus.STOOD_DOWN, "b": OfferStatus.ACCEPTED}
