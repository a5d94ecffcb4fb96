"""The seed stories from the brief, as scenarios through decide/apply."""

from __future__ import annotations

from schemas.commands import CompleteAssignment, FireDeadline, ResolveRequest
from schemas.records import RequestStatus
from schemas.requests import SkillNeed
from schemas.vocab import Category, Party, Ring, Role, Skill, Urgency


def test_pregnant_woman_at_8pm_drivers_nearby_and_a_remote_nurse(world):
    # Drivers in her building and next door; a nurse and a doctor across the community.
    for hid in ("driver-a", "driver-b", "driver-c", "driver-d"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.helper("driver-far", building="9", compound="other", grid="g2", skills=[Skill.DRIVING])
    world.helper("nurse", building="12", compound="other", grid="g2", skills=[Skill.NURSE])
    world.helper("doctor", building="7", compound="other", grid="g3", skills=[Skill.DOCTOR])
    world.helper("neighbour", skills=[Skill.CARRYING])

    d = world.submit(skills=(Skill.DRIVING, Skill.NURSE, Skill.DOCTOR), helpers_needed=1)

    # 120 advised at once, and neighbours dispatched in the same decision.
    advised = world.of_type("emergency_call_advised", d)
    assert [a.number for a in advised] == ["120"]
    offered = world.offered(d)
    assert {"driver-a", "driver-b", "driver-c", "driver-d"} <= set(offered)
    assert "driver-far" not in offered  # presence: only the building ring in wave one
    assert {"nurse", "doctor"} <= set(offered)  # remote: the whole community at once
    assert "neighbour" not in offered
    remote = {b.helper_id: b.remote for b in world.of_type("offer_sent", d)}
    assert remote["nurse"] and not remote["driver-a"]

    # The nurse guides by phone, several drivers accept: the first fills the slot.
    guide = world.accept("nurse")
    assert [(s.helper_id, s.reason) for s in world.of_type("offer_stood_down", guide)] == [
        ("doctor", "covered")
    ]
    assert world.request().status is RequestStatus.OPEN  # the driver slot is still open
    first = world.accept("driver-a")
    assert world.of_type("helper_assigned", first)[0].contact.phone == "13800000000"
    assert world.request().status is RequestStatus.FILLED
    stood = world.of_type("offer_stood_down", first)
    assert {s.helper_id for s in stood} == {"driver-b", "driver-c", "driver-d"}
    assert {s.reason for s in stood} == {"covered"}
    late = world.accept("driver-b")
    rejected = world.of_type("command_rejected", late)
    assert [(r.reason, r.helper_id) for r in rejected] == [("covered", "driver-b")]
    assert {a.helper_id for a in world.request().assignments} == {"nurse", "driver-a"}

    world.later(40 * 60)
    done = world.run(ResolveRequest(request_id="req-1", by=Party.REQUESTER, rating=5))
    resolved = world.of_type("request_resolved", done)[0]
    assert set(resolved.helper_ids) == {"nurse", "driver-a"}
    assert resolved.duration_s == 40 * 60
    # Resolution counts nobody's hours; the driver's "done" (after it) counts 40 minutes.
    assert world.state.helpers["driver-a"].load.service_seconds_total == 0
    world.run(CompleteAssignment(request_id="req-1", helper_id="driver-a"))
    assert world.state.helpers["driver-a"].load.service_seconds_total == 40 * 60


def test_elderly_woman_who_collapsed_her_paired_neighbour_is_offered_first(world):
    world.helper("z-building-first-aider", skills=[Skill.FIRST_AID])
    world.helper("a-building-first-aider", skills=[Skill.FIRST_AID], party=True)
    # Her paired party member lives in another building and has no listed skill.
    world.helper("paired-party-member", building="5", party=True, paired=["hh-granny"])

    d = world.submit(
        category=Category.FALL,
        skills=(Skill.FIRST_AID,),
        place=world.place(household="hh-granny"),
        text="奶奶在家摔倒了",
    )
    offers = world.of_type("offer_sent", d)
    assert offers[0].helper_id == "paired-party-member"
    assert offers[0].ring is Ring.PAIRED
    assert {o.helper_id for o in offers[1:]} == {"a-building-first-aider", "z-building-first-aider"}
    assert [o.ring for o in offers[1:]] == [Ring.BUILDING, Ring.BUILDING]

    world.accept("paired-party-member")
    assert world.request().status is RequestStatus.FILLED


def test_burst_pipe_plumbers_then_whistle_to_property_and_staff(world):
    world.helper("plumber-1", skills=[Skill.PLUMBING])
    world.helper("plumber-2", building="8", skills=[Skill.PLUMBING])
    world.helper("plumber-3", building="1", compound="next", grid="g2", skills=[Skill.PLUMBING])
    world.helper("staff", building="office", compound="office", roles=[Role.COMMUNITY_STAFF])
    world.helper("wuye", building="office", compound="office", roles=[Role.PROPERTY_MANAGEMENT])
    world.helper("electrician", skills=[Skill.ELECTRICAL])

    d = world.submit(
        category=Category.REPAIR,
        urgency=Urgency.URGENT,
        skills=(Skill.PLUMBING,),
        text="楼上漏水漏到我家天花板了，有没有会修水管的师傅帮忙看看",
    )
    # Nobody is paired with her: the empty PAIRED rung is skipped at once, and the
    # plumber in her building is asked in the first second.
    assert [e.to_ring for e in world.of_type("ring_escalated", d)] == [Ring.BUILDING]
    assert world.offered(d) == ["plumber-1"]
    seen = [(b.helper_id, b.ring) for b in world.of_type("offer_sent", d)]
    climbs = []
    whistle = None
    while whistle is None:
        step = world.tick()
        seen += [(b.helper_id, b.ring) for b in world.of_type("offer_sent", step)]
        elapsed = (world.now - world.request().created_at).total_seconds()
        climbs += [(e.to_ring, elapsed) for e in world.of_type("ring_escalated", step)]
        whistles = world.of_type("whistle_blown", step)
        whistle = whistles[0] if whistles else None
    # With an offer pending, each ring is waited out in full: building 120 s, compound
    # 180 s, and the grid (nobody new there, plumbers 1 and 2 still asked) 300 s.
    assert climbs == [
        (Ring.COMPOUND, 120),
        (Ring.GRID, 300),
        (Ring.COMMUNITY, 600),
        (Ring.WHISTLE, 1200),
    ]
    # The plumber next door lives in another grid: reached from the community ring.
    assert seen[:3] == [
        ("plumber-1", Ring.BUILDING),
        ("plumber-2", Ring.COMPOUND),
        ("plumber-3", Ring.COMMUNITY),
    ]
    assert sorted(seen[3:]) == [("staff", Ring.WHISTLE), ("wuye", Ring.WHISTLE)]
    assert set(whistle.staff_helper_ids) == {"staff", "wuye"}
    assert "electrician" not in {hid for hid, _ in seen}

    # Nobody answers at all: the ladder runs out and the request expires unanswered.
    final = world.tick()
    while world.request().status is RequestStatus.OPEN:
        final = world.tick()
    assert world.request().status is RequestStatus.EXPIRED
    assert world.of_type("request_expired", final)
    # Every offer ended: unanswered ones expired (no answer), any still open were stood down.
    closed = {b.helper_id for b in world.of_type("offer_expired")} | {
        b.helper_id for b in world.of_type("offer_stood_down")
    }
    assert closed == {"plumber-1", "plumber-2", "plumber-3", "staff", "wuye"}
    assert all(o.status != "open" for o in world.request().offers)
    assert world.request().next_deadline is None
    assert all(isinstance(c, str) for c in world.request().recent_command_ids)
    # A stale timer command afterwards changes nothing.
    assert not world.run(FireDeadline(request_id="req-1", step=0)).changed


def test_stretcher_needs_four_carriers(world):
    for i in range(6):
        world.helper(f"carrier-{i}", skills=[Skill.CARRYING])
    d = world.submit(
        category=Category.CARRYING,
        urgency=Urgency.URGENT,
        skills=(Skill.CARRYING,),
        helpers_needed=4,
        needs=(SkillNeed(skills=(Skill.CARRYING,), count=4),),
    )
    # Urgent starts with the paired rung; nobody is paired with her, so the building is
    # asked at once: all six carriers there (four per slot wanted, six exist).
    offers = world.of_type("offer_sent", d)
    assert sorted(o.helper_id for o in offers) == [f"carrier-{i}" for i in range(6)]
    assert {o.ring for o in offers} == {Ring.BUILDING}
    assert {o.helpers_needed for o in offers} == {4}
    assert world.request().step == 1
    slots = []
    for i in range(4):
        dec = world.accept(f"carrier-{i}")
        slots += [a.slot for a in world.of_type("helper_assigned", dec)]
    assert sorted(slots) == [0, 1, 2, 3]
    assert world.request().status is RequestStatus.FILLED
    late = world.accept("carrier-4")
    assert [r.reason for r in world.of_type("command_rejected", late)] == ["covered"]
    assert len(world.request().assignments) == 4
