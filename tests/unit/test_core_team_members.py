"""Team members tracked one by one (issue 14 item 5): the leader names who goes, each
named member gets an assignment of their own - their own slot, on-my-way, can't-come
(reopening their slot only), done with minutes - and the core refuses names that are
not active members of the offered team in the request's community."""

from __future__ import annotations

from typing import Any

from dispatcher.core.team_members import member_offer_id
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    CompleteAssignment,
    DeactivateHelper,
    MarkOnMyWay,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.records import RequestStatus
from schemas.vocab import Category, Party, Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_core_party_teams import person


def _team(world: World) -> None:
    person(world, "leader", teams=("帮帮团",), leads_teams=("帮帮团",), skills=[Skill.CARRYING])
    for k in range(3):
        person(world, f"member-{k}", building="7", compound="far", grid="g9", teams=("帮帮团",))
    person(world, "other-team", building="7", compound="far", grid="g9", teams=("红管家",))
    world.helper("carrier", skills=[Skill.CARRYING])


def _carry(world: World, slots: int) -> None:
    world.submit(
        category=Category.CARRYING,
        urgency=Urgency.NORMAL,
        skills=(Skill.CARRYING,),
        helpers_needed=slots,
    )


def _accept_naming(world: World, *member_ids: str, helper_id: str = "leader") -> Any:
    return world.run(
        AcceptOffer(
            request_id="req-1",
            offer_id=world.offer_id("leader"),
            helper_id=helper_id,
            members=1 + len(member_ids),
            member_ids=member_ids,
        )
    )


def _rejected(world: World, decision: Any) -> list[tuple[str, str]]:
    return [(e.reason, e.detail) for e in world.of_type("command_rejected", decision)]


def test_each_named_member_gets_their_own_assignment_and_slot(world):
    _team(world)
    _carry(world, 3)
    d = _accept_naming(world, "member-1")
    r = world.request()
    got = [(a.helper_id, a.slot, a.team_slots, a.signed_up_by) for a in r.assignments]
    assert got == [("leader", 0, (), None), ("member-1", 1, (), "leader")]
    assert r.assignments[1].offer_id == member_offer_id("req-1", "member-1")
    assigned = world.of_type("helper_assigned", d)
    assert [(x.helper_id, x.members, x.member_ids, x.signed_up_by) for x in assigned] == [
        ("leader", 2, ("member-1",), None),
        ("member-1", 1, (), "leader"),
    ]
    # The member's own event carries the (sealed) contact like the leader's: only to them.
    assert assigned[1].sealed == assigned[0].sealed and assigned[1].group_name is None
    assert r.status is RequestStatus.OPEN  # one slot left, for someone else
    load = world.state.helpers["member-1"].load
    assert (load.assignments_today, load.accepted_total) == (1, 0)  # signed up, not answered


def test_more_names_than_open_slots_fill_only_the_open_slots_in_the_leaders_order(world):
    _team(world)
    _carry(world, 2)
    d = _accept_naming(world, "member-2", "member-0")
    r = world.request()
    assert [a.helper_id for a in r.assignments] == ["leader", "member-2"]
    assert r.status is RequestStatus.FILLED
    assert world.of_type("helper_assigned", d)[0].member_ids == ("member-2",)


def test_a_member_withdrawing_reopens_their_slot_only_and_it_is_offered_again(world):
    _team(world)
    _carry(world, 3)
    _accept_naming(world, "member-0", "member-1")
    assert world.request().status is RequestStatus.FILLED
    world.helper("carrier-2", skills=[Skill.CARRYING])
    d = world.run(WithdrawHelper(request_id="req-1", helper_id="member-0"))
    r = world.request()
    assert [(a.helper_id, a.active) for a in r.assignments] == [
        ("leader", True),
        ("member-0", False),
        ("member-1", True),
    ]
    assert [w.slot for w in world.of_type("helper_withdrawn", d)] == [1]
    assert r.status is RequestStatus.OPEN
    # Never the team's members, assigned or not. The first carrier, stood down only because
    # the team covered the slot (never declined), is asked again (session 40), beside the
    # new one, in the index's rank order.
    assert world.offered(d) == ["carrier-2", "carrier"]


def test_a_member_marks_on_my_way_and_done_with_minutes_of_their_own(world):
    _team(world)
    _carry(world, 2)
    _accept_naming(world, "member-0")
    world.run(MarkOnMyWay(request_id="req-1", helper_id="member-0"))
    d = world.run(CompleteAssignment(request_id="req-1", helper_id="member-0", minutes=30))
    [done] = world.of_type("assignment_completed", d)
    assert (done.helper_id, done.minutes, done.offer_id) == (
        "member-0",
        30,
        member_offer_id("req-1", "member-0"),
    )
    member = world.request().assignments[1]
    assert member.on_way_at is not None and member.minutes == 30
    assert world.state.helpers["member-0"].load.service_seconds_total == 30 * 60
    assert world.state.helpers["leader"].load.service_seconds_total == 0
    assert world.request().status is RequestStatus.FILLED  # the leader is not done yet
    world.run(CompleteAssignment(request_id="req-1", helper_id="leader", minutes=45))
    assert world.request().status is RequestStatus.RESOLVED


def test_names_outside_the_team_are_refused_and_nothing_is_assigned(world):
    _team(world)
    _carry(world, 3)
    for bad in ("other-team", "carrier", "nobody", "leader"):
        d = _accept_naming(world, "member-0", bad)
        assert _rejected(world, d) == [("not_a_team_member", bad)], bad
        assert world.request().assignments == ()
    d = _accept_naming(world, "member-0", "member-0")  # named twice
    assert _rejected(world, d) == [("not_a_team_member", "member-0")]


def test_a_deactivated_member_or_another_communitys_member_is_refused(world):
    _team(world)
    world.run(DeactivateHelper(helper_id="member-2"))
    # A helper of another community who claims the same team name.
    profile = world.state.helpers["member-1"].profile
    foreign = profile.model_copy(
        update={
            "helper_id": "foreign",
            "place": profile.place.model_copy(update={"community_id": "another-community"}),
        }
    )
    world.run(
        Command(
            command_id="upsert-foreign",
            community_id="another-community",
            issued_at=world.now,
            body=UpsertHelper(profile=foreign),
        )
    )
    assert world.state.helpers["foreign"].profile.community_id == "another-community"
    _carry(world, 3)
    assert _rejected(world, _accept_naming(world, "member-2")) == [
        ("not_a_team_member", "member-2")
    ]
    assert _rejected(world, _accept_naming(world, "foreign")) == [("not_a_team_member", "foreign")]
    assert world.request().assignments == ()


def test_a_member_already_assigned_is_not_signed_up_again(world):
    _team(world)
    person(world, "member-near", teams=("帮帮团",), skills=[Skill.CARRYING])
    _carry(world, 3)
    assert "member-near" in world.offered()
    world.accept("member-near")  # accepted on their own offer first
    d = _accept_naming(world, "member-near")
    assert _rejected(world, d) == [("already_assigned", "member-near")]


def test_a_member_withdrawn_stays_withdrawn_and_their_own_offer_cannot_reassign_them(world):
    _team(world)
    person(world, "member-near", teams=("帮帮团",), skills=[Skill.CARRYING])
    _carry(world, 3)
    near_offer = world.offer_id("member-near")
    _accept_naming(world, "member-near")
    # Their own pending offer closed when their leader signed them up.
    assert any(s.offer_id == near_offer for s in world.of_type("offer_stood_down")), (
        "the member's own offer was not stood down"
    )
    d = world.accept("member-near")
    assert _rejected(world, d) == [("already_assigned", "")]
    assert [a.helper_id for a in world.request().assignments].count("member-near") == 1


def test_an_accept_without_names_keeps_the_earlier_meaning(world):
    _team(world)
    _carry(world, 3)
    world.run(
        AcceptOffer(
            request_id="req-1", offer_id=world.offer_id("leader"), helper_id="leader", members=2
        )
    )
    (a,) = world.request().assignments
    assert (a.helper_id, a.team_slots, a.signed_up_by) == ("leader", (1,), None)


def test_a_named_accept_json_round_trips_and_an_inconsistent_one_is_invalid():
    import pytest
    from pydantic import ValidationError

    body = AcceptOffer(request_id="r", offer_id="o", helper_id="h", members=2, member_ids=("m",))
    assert AcceptOffer.model_validate_json(body.model_dump_json()) == body
    old = AcceptOffer(request_id="r", offer_id="o", helper_id="h", members=3)
    assert "member_ids" not in old.model_dump_json()  # earlier bytes kept
    with pytest.raises(ValidationError):
        AcceptOffer(request_id="r", offer_id="o", helper_id="h", members=3, member_ids=("m",))


def test_a_cancellation_stands_down_each_member_on_their_own_assignment(world):
    _team(world)
    _carry(world, 3)
    _accept_naming(world, "member-0", "member-1")
    d = world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    told = {
        (s.helper_id, s.offer_id) for s in world.of_type("offer_stood_down", d) if s.was_assigned
    }
    assert told == {
        ("leader", world.offer_id("leader")),
        ("member-0", member_offer_id("req-1", "member-0")),
        ("member-1", member_offer_id("req-1", "member-1")),
    }
