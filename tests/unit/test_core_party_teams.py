"""Party and teams in dispatch (issue 14 item 5): the community's party-first setting,
党员楼长 as the building's first responder, and teams whose leader accepts for n members."""

from __future__ import annotations

from typing import Any

from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    SetHelperStatus,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.party import PartyFirst
from schemas.plans import LadderStep, RungAction
from schemas.records import RequestStatus
from schemas.vocab import Category, Party, Ring, Role, Skill, Urgency
from tests.unit.conftest import COMMUNITY, REFERENCE_PLANS, World


def person(world: World, helper_id: str, **extra: Any) -> None:
    """`world.helper(...)` with profile fields it has no argument for (teams, leads_teams)."""
    fields = {k: extra.pop(k) for k in ("teams", "leads_teams") if k in extra}
    profile = world.helper(helper_id, **extra)
    if fields:
        world.run(UpsertHelper(profile=profile.model_copy(update=fields)))


# --- the community's party-first setting ---------------------------------------------------


def _drivers(world: World) -> None:
    for hid in ("a-volunteer", "b-volunteer", "z-party"):
        world.helper(hid, skills=[Skill.DRIVING], party=hid.endswith("party"))


def test_party_first_by_default_for_the_community(world):
    _drivers(world)
    world.submit("before")
    assert world.offered()[0] == "a-volunteer"  # without the setting: fairness, then the id
    world.state.party_first = {COMMUNITY: PartyFirst(default=True)}
    world.events.clear()
    world.submit("after")
    assert world.offered()[0] == "z-party"
    assert world.request("after").spec.prefer_party_member  # snapshotted onto the request


def test_party_first_per_category_only(world):
    _drivers(world)
    world.state.party_first = {COMMUNITY: PartyFirst(categories=(Category.MEDICAL,))}
    world.submit("transport", category=Category.HOSPITAL_TRANSPORT)
    assert world.offered()[0] == "a-volunteer"
    world.events.clear()
    world.submit("medical", category=Category.MEDICAL)
    assert world.offered()[0] == "z-party"


def test_party_first_of_another_community_changes_nothing(world):
    _drivers(world)
    world.state.party_first = {"another-community": PartyFirst(default=True)}
    world.submit()
    assert world.offered()[0] == "a-volunteer"


# --- 党员楼长: the building's first responder ------------------------------------------------


def test_party_building_head_is_offered_in_the_first_wave_whatever_the_skill(world):
    world.helper("head", roles=[Role.BUILDING_HEAD], party=True)  # no driving skill
    world.helper("driver", building="8", skills=[Skill.DRIVING])  # same compound
    # Urgent starts with the paired ring: empty here, so the building ring's wave is the
    # first with anyone, but the building head is offered at the very first step.
    decision = world.submit(urgency=Urgency.URGENT)
    sent = world.of_type("offer_sent", decision)
    assert sent[0].helper_id == "head" and sent[0].step == 0
    assert sent[0].ring is Ring.BUILDING


def test_a_building_head_who_is_not_a_party_member_is_no_first_responder(world):
    world.helper("head", roles=[Role.BUILDING_HEAD])  # 楼长, not a party member
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.URGENT)
    assert world.offered() == ["driver"]


def test_a_party_building_head_of_another_building_is_not_a_first_responder(world):
    world.helper("head-9", building="9", roles=[Role.BUILDING_HEAD], party=True)
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.URGENT)
    assert "head-9" not in world.offered()


def test_a_first_responder_who_is_away_is_not_offered(world):
    from schemas.commands import SetHelperStatus

    world.helper("head", roles=[Role.BUILDING_HEAD], party=True)
    world.run(SetHelperStatus(helper_id="head", away=True))
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.URGENT)
    assert world.offered() == ["driver"]


def test_a_first_responder_accepting_fills_the_slot(world):
    world.helper("head", roles=[Role.BUILDING_HEAD], party=True)
    world.submit(urgency=Urgency.URGENT)
    world.accept("head")
    assert world.request().status is RequestStatus.FILLED


# --- teams ------------------------------------------------------------------------------


def _team(world: World, members: int = 4) -> None:
    person(world, "leader", teams=("帮帮团",), leads_teams=("帮帮团",), skills=[Skill.CARRYING])
    for k in range(members - 1):
        person(world, f"member-{k}", building="7", compound="far", grid="g9", teams=("帮帮团",))


def _carry(world: World, slots: int) -> Any:
    return world.submit(
        category=Category.CARRYING,
        urgency=Urgency.NORMAL,
        skills=(Skill.CARRYING,),
        helpers_needed=slots,
    )


def _accept_for(world: World, helper_id: str, members: int) -> Any:
    offer_id = world.offer_id(helper_id)
    return world.run(
        AcceptOffer(request_id="req-1", offer_id=offer_id, helper_id=helper_id, members=members)
    )


def test_a_need_of_several_helpers_offers_a_team_of_the_ring(world):
    _team(world)
    world.helper("carrier", skills=[Skill.CARRYING])
    decision = _carry(world, 3)
    team_offers = [o for o in world.of_type("offer_sent", decision) if o.team_id is not None]
    assert [(o.helper_id, o.team_id, o.team_size) for o in team_offers] == [("leader", "帮帮团", 4)]
    assert "carrier" in world.offered()
    assert world.request().offers[0].team_id == "帮帮团"


def test_a_single_slot_is_not_offered_to_a_team(world):
    _team(world)
    world.submit(category=Category.CARRYING, urgency=Urgency.NORMAL, skills=(Skill.CARRYING,))
    assert all(o.team_id is None for o in world.of_type("offer_sent"))


def test_the_team_leader_accepts_for_n_members_and_n_slots_fill(world):
    _team(world)
    world.helper("carrier", skills=[Skill.CARRYING])
    _carry(world, 3)
    _accept_for(world, "leader", 2)
    r = world.request()
    (a,) = r.assignments
    assert (a.helper_id, a.team_id, a.slot, a.team_slots) == ("leader", "帮帮团", 0, (1,))
    assigned = world.of_type("helper_assigned")
    assert [(x.members, x.team_id) for x in assigned] == [(2, "帮帮团")]
    assert r.status is RequestStatus.OPEN  # one slot left
    world.accept("carrier")
    assert world.request().status is RequestStatus.FILLED
    assert world.request().assignments[1].slot == 2


def test_a_team_accepting_for_more_than_the_open_slots_fills_only_those(world):
    _team(world)
    _carry(world, 2)
    _accept_for(world, "leader", 5)
    r = world.request()
    assert r.status is RequestStatus.FILLED
    assert r.assignments[0].slots_held == 2
    assert world.of_type("helper_assigned")[0].members == 2


def test_several_members_on_a_personal_offer_are_refused(world):
    world.helper("carrier", skills=[Skill.CARRYING])
    world.helper("carrier-2", skills=[Skill.CARRYING])
    _carry(world, 2)
    d = _accept_for(world, "carrier", 2)
    assert [e.reason for e in world.of_type("command_rejected", d)] == ["not_a_team_offer"]
    assert world.request().assignments == ()


def test_a_team_withdrawing_reopens_all_its_slots(world):
    _team(world)
    _carry(world, 2)
    _accept_for(world, "leader", 2)
    assert world.request().status is RequestStatus.FILLED
    world.run(WithdrawHelper(request_id="req-1", helper_id="leader"))
    assert world.request().status is RequestStatus.OPEN
    assert not world.request().assignments[0].active


def test_a_team_rung_calls_teams_and_is_skipped_when_there_are_none(world):
    plan = REFERENCE_PLANS[Urgency.NORMAL]
    team_step = LadderStep(ring=Ring.COMMUNITY, action=RungAction.TEAM, wave_size=2, wait_s=60)
    world.state.plans = {
        **REFERENCE_PLANS,
        Urgency.NORMAL: plan.model_copy(update={"steps": (team_step, *plan.steps)}),
    }
    world.helper("carrier", skills=[Skill.CARRYING])
    world.submit("no-teams", urgency=Urgency.NORMAL, skills=(Skill.CARRYING,))
    # Nobody to call on the team rung nor the paired one: climbed at once to the building.
    assert world.request("no-teams").step == 2
    assert world.offered() == ["carrier"]
    _team(world)
    world.events.clear()
    world.submit("teams", urgency=Urgency.NORMAL, skills=(Skill.CARRYING,))
    sent = world.of_type("offer_sent")
    assert [(o.helper_id, o.team_id) for o in sent] == [("leader", "帮帮团")]
    assert world.request("teams").step == 0


def test_offer_json_keeps_its_earlier_bytes_without_a_team_and_old_json_reads():
    from schemas.events import OfferSent

    old = {
        "type": "offer_sent",
        "offer_id": "o",
        "helper_id": "h",
        "ring": "building",
        "step": 0,
        "expires_at": "2024-03-05T12:00:00Z",
        "category": "carrying",
        "urgency": "normal",
        "building_label": "3号楼",
        "helpers_needed": 2,
        "skills": [],
        "remote": False,
    }
    sent = OfferSent.model_validate(old)
    assert sent.team_id is None and sent.team_size == 0
    assert "team_id" not in sent.model_dump_json()  # left out at its default: same bytes
    team = sent.model_copy(update={"team_id": "帮帮团", "team_size": 4})
    assert OfferSent.model_validate_json(team.model_dump_json()) == team


# --- 结对 from the household ledger --------------------------------------------------------


def test_pairing_a_household_makes_the_helper_its_paired_ring_and_unpairing_ends_it(world):
    from schemas.commands import PairHousehold

    world.helper("far", building="9", compound="far", grid="g9")  # no skill, far away
    world.helper("driver", skills=[Skill.DRIVING])
    world.run(PairHousehold(helper_id="far", household_id="hh-requester"))
    world.submit("paired", urgency=Urgency.URGENT)
    sent = world.of_type("offer_sent")
    assert [(o.helper_id, o.ring) for o in sent][:1] == [("far", Ring.PAIRED)]
    world.run(PairHousehold(helper_id="far", household_id="hh-requester", paired=False))
    assert world.state.helpers["far"].paired_household_ids == ()
    d = world.run(PairHousehold(helper_id="nobody", household_id="hh-requester"))
    assert [e.reason for e in world.of_type("command_rejected", d)] == ["unknown_helper"]


def test_a_helper_ledger_reimport_keeps_the_household_ledgers_pairings_and_vice_versa(world):
    """Each ledger restates only its own 结对: the helper ledger's UpsertHelper (its 结对
    column empty here) keeps the household ledger's pairing, and the household ledger's
    unpairing keeps the helper ledger's."""
    from schemas.commands import PairHousehold

    profile = world.helper("far", building="9", compound="far", grid="g9", paired=["hh-other"])
    world.helper("driver", skills=[Skill.DRIVING])
    world.run(PairHousehold(helper_id="far", household_id="hh-requester"))
    # The helper ledger again, with a changed cell and no 结对 for hh-requester.
    world.run(UpsertHelper(profile=profile.model_copy(update={"name": "远邻"})))
    far = world.state.helpers["far"]
    assert far.profile.name == "远邻"
    assert far.paired_household_ids == ("hh-other", "hh-requester")
    world.submit("paired", urgency=Urgency.URGENT)
    sent = world.of_type("offer_sent")
    assert [(o.helper_id, o.ring) for o in sent][:1] == [("far", Ring.PAIRED)]
    # The household ledger no longer pairs hh-other's helper with it: its own only.
    world.run(PairHousehold(helper_id="far", household_id="hh-other", paired=False))
    world.run(PairHousehold(helper_id="far", household_id="hh-requester", paired=False))
    assert world.state.helpers["far"].paired_household_ids == ("hh-other",)
    # The index follows a change of pairings alone (the profile unchanged).
    later = world.of_type("offer_sent", world.submit("unpaired", urgency=Urgency.URGENT))
    assert later and "far" not in {o.helper_id for o in later}


def test_a_team_is_offered_for_any_presence_need_whatever_its_leaders_own_skills(world):
    person(world, "leader", teams=("红管家",), leads_teams=("红管家",))  # no carrying skill
    _carry(world, 2)
    sent = world.of_type("offer_sent")
    assert [(o.helper_id, o.team_id, o.team_size) for o in sent] == [("leader", "红管家", 1)]


# --- staff calling a team (issue 14 item 4) -------------------------------------------------


def _call(world: World, team_id: str = "帮帮团") -> Any:
    from schemas.staff_actions import CallTeam

    return world.run(CallTeam(request_id="req-1", team_id=team_id, by="li.wei"))


def _rejected(world: World, decision: Any) -> list[str]:
    return [e.reason for e in world.of_type("command_rejected", decision)]


def test_staff_call_a_team_its_leader_accepts_for_two_and_two_slots_fill(world):
    # The leader lives far off: the ladder's own team offer (in the nearer rings) misses it.
    person(world, "leader", building="9", compound="far", grid="g9", leads_teams=("帮帮团",))
    person(world, "member", building="9", compound="far", grid="g9", teams=("帮帮团",))
    world.helper("carrier", skills=[Skill.CARRYING])  # keeps the ladder in the near rings
    _carry(world, 2)
    assert world.offered() == ["carrier"]
    d = _call(world)
    [sent] = world.of_type("offer_sent", d)
    assert (sent.helper_id, sent.team_id, sent.team_size) == ("leader", "帮帮团", 2)
    assert world.request().offers[-1].team_id == "帮帮团"
    assert _rejected(world, _call(world)) == ["already_offered"]  # not offered twice
    _accept_for(world, "leader", 2)
    r = world.request()
    assert r.status is RequestStatus.FILLED and r.assignments[0].slots_held == 2
    assert _rejected(world, _call(world, "红管家")) == ["no_open_slot"]


def test_calling_a_team_is_refused_without_an_available_leader(world):
    person(world, "member", teams=("帮帮团",))  # a member, no leader
    person(world, "away-leader", leads_teams=("红管家",))
    world.run(SetHelperStatus(helper_id="away-leader", away=True))
    _carry(world, 2)
    assert _rejected(world, _call(world)) == ["no_team_leader"]
    assert _rejected(world, _call(world, "红管家")) == ["no_team_leader"]
    assert _rejected(world, _call(world, "no-such-team")) == ["no_team_leader"]
    assert not any(o.team_id for o in world.request().offers)


def test_a_leader_already_asked_in_person_is_not_offered_again(world):
    person(world, "leader", leads_teams=("帮帮团",), skills=[Skill.CARRYING])
    _carry(world, 1)  # one slot: the leader is offered in person, not as a team
    assert world.offered() == ["leader"]
    assert _rejected(world, _call(world)) == ["already_offered"]


def test_a_closed_request_calls_no_team(world):
    person(world, "leader", leads_teams=("帮帮团",))
    _carry(world, 2)
    world.run(CancelRequest(request_id="req-1", by=Party.STAFF))
    d = _call(world)
    assert _rejected(world, d) == ["request_closed"]
    assert world.of_type("offer_sent", d) == []
