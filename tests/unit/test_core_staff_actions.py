"""Staff taking a request on (claim), referring it to a department, and whistle recipients
reporting back (报到), through decide/apply."""

from __future__ import annotations

from schemas.commands import ReferRequest, ResolveRequest
from schemas.records import RequestStatus
from schemas.staff_actions import ClaimRequest, ReportBack
from schemas.vocab import Party, ReferralTarget, Skill


def test_the_first_claim_wins_and_a_second_press_is_harmless(world):
    world.helper("driver-a", skills=[Skill.DRIVING])
    world.submit()
    out = world.run(ClaimRequest(request_id="req-1", by="li.wei"))
    [claimed] = world.of_type("request_claimed", out)
    assert (claimed.by, claimed.via) == ("li.wei", "dashboard")
    r = world.request()
    assert r.claimed_by == "li.wei" and r.claimed_at == world.now
    assert r.status is RequestStatus.OPEN  # neighbours are still being asked
    assert world.run(ClaimRequest(request_id="req-1", by="li.wei")).events == ()
    other = world.run(ClaimRequest(request_id="req-1", by="wang", via="link"))
    [rejected] = world.of_type("command_rejected", other)
    assert (rejected.reason, rejected.detail) == ("already_claimed", "li.wei")
    assert world.request().claimed_by == "li.wei"


def test_a_closed_request_cannot_be_claimed(world):
    world.submit()
    world.run(ResolveRequest(request_id="req-1", by=Party.STAFF))
    out = world.run(ClaimRequest(request_id="req-1", by="li.wei"))
    assert [r.reason for r in world.of_type("command_rejected", out)] == ["request_closed"]
    assert world.request().claimed_by is None


def test_refer_to_a_named_department(world):
    world.helper("driver-a", skills=[Skill.DRIVING])
    world.submit()
    out = world.run(
        ReferRequest(request_id="req-1", to=ReferralTarget.DEPARTMENT, department="城管")
    )
    [referred] = world.of_type("request_referred", out)
    assert (referred.to, referred.department) == (ReferralTarget.DEPARTMENT, "城管")
    assert world.request().status is RequestStatus.REFERRED
    # The helper holding the offer is told it is no longer needed.
    assert [s.reason for s in world.of_type("offer_stood_down", out)] == ["referred"]


def test_report_back_only_after_the_whistle_and_once_per_recipient(world):
    world.helper("driver-a", skills=[Skill.DRIVING])
    world.submit()
    early = world.run(ReportBack(request_id="req-1", recipient="grid-worker", role="grid_worker"))
    assert [r.reason for r in world.of_type("command_rejected", early)] == ["not_whistled"]
    while not world.request().whistle_blown:
        world.tick()
    out = world.run(ReportBack(request_id="req-1", recipient="grid-worker", role="grid_worker"))
    [back] = world.of_type("whistle_reported_back", out)
    assert (back.recipient, back.role) == ("grid-worker", "grid_worker")
    assert world.request().reported_back == ("grid-worker",)
    assert world.run(ReportBack(request_id="req-1", recipient="grid-worker")).events == ()
    world.run(ReportBack(request_id="req-1", recipient="wuye", role="property"))
    assert world.request().reported_back == ("grid-worker", "wuye")
