"""Session 38, the lead's two rules for staff taking a request on and handing it on.

A. Once staff claim a request, the whistle and referral rungs call nobody: no staff offers,
   no `WhistleBlown` / `ReferredToEmergency` (whose pushes reach the community's whistle
   list and whose group texts say staff were called). Neighbours' rungs run on, and the
   ladder's timing (each rung's wait, the end) is what it is unclaimed.
B. A staff referral to 120/110/119 keeps the neighbours assigned (only open offers are
   stood down); the event names those kept and counts those coming in person, as the
   ladder's own emergency rung does. To property or a department it releases them as ever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from dispatcher.core.draft import RequestDraft
from schemas.commands import CompleteAssignment, MarkOnMyWay, ReferRequest
from schemas.events import Event, RequestReferred
from schemas.records import RequestStatus
from schemas.staff_actions import ClaimRequest
from schemas.vocab import Category, ReferralTarget, Ring, Role, Skill, Urgency
from tests.unit.conftest import World


def releases_assigned(d: RequestDraft) -> bool:
    """`ladder.releases_assigned`, imported when called (the file decodes on old code)."""
    from dispatcher.core.ladder import releases_assigned as released

    return released(d)


# Somewhere only the whole community (the last neighbours' ring) reaches.
FAR: dict[str, Any] = {"building": "9", "compound": "far", "grid": "g9"}


def _neighbour_and_staff(world: World) -> None:
    """A neighbour in the request's building (its offer holds the ladder at the first
    rung), another only the community ring reaches, and staff on duty."""
    world.helper("near-driver", skills=[Skill.DRIVING])
    world.helper("far-driver", skills=[Skill.DRIVING], **FAR)
    world.helper("staff", roles=[Role.COMMUNITY_STAFF], **FAR)


def _to_the_end(world: World) -> list[Event]:
    start = len(world.events)
    while not world.request().terminal:
        world.tick()
    return world.events[start:]


def _types(events: list[Event]) -> list[str]:
    return [e.body.type for e in events]


# --- A: a claim stops the ladder calling staff -----------------------------------------


def test_a_claimed_request_whistles_to_nobody_and_is_never_referred(world):
    _neighbour_and_staff(world)
    world.submit()
    world.run(ClaimRequest(request_id="req-1", by="li"))
    assert world.offered() == ["near-driver"]
    after = _to_the_end(world)
    types = _types(after)
    assert "whistle_blown" not in types
    assert "referred_to_emergency" not in types
    assert "staff" not in world.offered()  # no whistle offer to staff on duty
    # Neighbours are still asked: the community ring's neighbour got an offer after the claim.
    assert "far-driver" in world.offered()
    assert Ring.COMMUNITY in [e.body.to_ring for e in after if e.body.type == "ring_escalated"]
    # The rungs passed as ever; unanswered, the claimed request expires as any other.
    r = world.request()
    assert r.whistle_blown  # the rung was reached: nothing climbs "to the whistle" again
    assert r.status is RequestStatus.EXPIRED
    assert types[-1] == "request_expired"


def _rungs_and_end(claim: bool) -> tuple[list[tuple[datetime, Ring]], datetime | None]:
    world = World()
    _neighbour_and_staff(world)
    world.submit()
    if claim:
        world.run(ClaimRequest(request_id="req-1", by="li"))
    _to_the_end(world)
    climbs = [
        (e.occurred_at, e.body.to_ring) for e in world.events if e.body.type == "ring_escalated"
    ]
    return climbs, world.request().closed_at


def test_a_claim_keeps_the_ladder_timing():
    claimed = _rungs_and_end(claim=True)
    assert claimed == _rungs_and_end(claim=False)
    climbs, _ = claimed
    assert [ring for _, ring in climbs][-2:] == [Ring.WHISTLE, Ring.EMERGENCY]


def test_a_claim_after_the_whistle_stops_the_referral(world):
    _neighbour_and_staff(world)
    world.submit()
    while not world.request().whistle_blown:
        world.tick()
    assert "staff" in world.offered()  # unclaimed, the whistle called staff on duty
    world.run(ClaimRequest(request_id="req-1", by="li"))
    after = _to_the_end(world)
    assert "referred_to_emergency" not in _types(after)
    assert "ring_escalated" in _types(after)  # the referral rung was reached, silently


def test_unclaimed_the_ladder_still_calls_staff(world):
    _neighbour_and_staff(world)
    world.submit()
    types = _types(_to_the_end(world))
    assert "whistle_blown" in types and "referred_to_emergency" in types
    assert "staff" in world.offered()


# --- B: a referral to an emergency service keeps the neighbours coming ------------------


def _fall_with_one_on_the_way(world: World) -> None:
    """A critical fall needing two (first aid, carrying): the first-aider accepted and set
    off, the carrier holds an open offer."""
    world.helper("first-aider", skills=[Skill.FIRST_AID])
    world.helper("carrier", skills=[Skill.CARRYING])
    world.submit(
        category=Category.FALL,
        urgency=Urgency.CRITICAL,
        skills=(Skill.FIRST_AID, Skill.CARRYING),
        helpers_needed=2,
    )
    world.accept("first-aider")
    world.run(MarkOnMyWay(request_id="req-1", helper_id="first-aider"))
    assert "carrier" in world.offered()


@pytest.mark.parametrize(
    "to", [ReferralTarget.AMBULANCE, ReferralTarget.POLICE, ReferralTarget.FIRE]
)
def test_a_referral_to_an_emergency_service_keeps_the_neighbour_on_the_way(world, to):
    _fall_with_one_on_the_way(world)
    out = world.run(ReferRequest(request_id="req-1", to=to))
    stood = world.of_type("offer_stood_down", out)
    # The open offer is stood down, the neighbour on the way is not.
    assert [(s.helper_id, s.reason, s.was_assigned) for s in stood] == [
        ("carrier", "referred", False)
    ]
    [referred] = world.of_type("request_referred", out)
    assert referred.helpers_coming == 1
    assert referred.kept_helper_ids == ("first-aider",)
    r = world.request()
    assert r.status is RequestStatus.REFERRED and r.referred_to is to
    assert [a.helper_id for a in r.assignments if a.active] == ["first-aider"]
    assert not releases_assigned(RequestDraft.of(r, world.now))


@pytest.mark.parametrize("to", [ReferralTarget.PROPERTY, ReferralTarget.DEPARTMENT])
def test_a_referral_elsewhere_still_releases_the_neighbour(world, to):
    _fall_with_one_on_the_way(world)
    out = world.run(ReferRequest(request_id="req-1", to=to, department="街道"))
    stood = {(s.helper_id, s.was_assigned) for s in world.of_type("offer_stood_down", out)}
    assert stood == {("carrier", False), ("first-aider", True)}
    [referred] = world.of_type("request_referred", out)
    assert (referred.helpers_coming, referred.kept_helper_ids) == (0, ())
    assert releases_assigned(RequestDraft.of(world.request(), world.now))


def test_a_helper_done_already_is_neither_kept_nor_coming(world):
    _fall_with_one_on_the_way(world)
    world.run(CompleteAssignment(request_id="req-1", helper_id="first-aider"))
    out = world.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    [referred] = world.of_type("request_referred", out)
    assert (referred.helpers_coming, referred.kept_helper_ids) == (0, ())


def test_a_nurse_guiding_by_phone_is_kept_but_not_coming(world):
    world.helper("nurse", building="2", compound="far", grid="g2", skills=[Skill.NURSE])
    world.submit(category=Category.MEDICAL, skills=(Skill.DRIVING, Skill.NURSE))
    world.accept("nurse")
    out = world.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    [referred] = world.of_type("request_referred", out)
    assert (referred.helpers_coming, referred.kept_helper_ids) == (0, ("nurse",))


def test_a_referral_written_before_the_new_fields_decodes_and_keeps_its_bytes():
    old = '{"type":"request_referred","to":"120","note":"","department":""}'
    body = RequestReferred.model_validate_json(old)
    assert (body.helpers_coming, body.kept_helper_ids) == (0, ())
    assert body.model_dump_json() == old
