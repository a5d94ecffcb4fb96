"""A remote need nobody can fill (a nurse by phone, none free) does not climb the ladder:
its search read the whole community from the first wave, so only the whistle can help it,
at its normal time. Before, it rushed the driver beside it through every ring, the whistle
and the community group in the first second."""

from __future__ import annotations

from datetime import timedelta

from schemas.records import RequestStatus
from schemas.vocab import Category, Ring, Role, Skill, Urgency
from tests.unit.conftest import REFERENCE_PLANS, T0, World


def _community(world: World, *, nurse: bool = False) -> None:
    world.helper("driver-a", skills=[Skill.DRIVING])
    world.helper("driver-b", skills=[Skill.DRIVING])
    world.helper("driver-far", building="1", compound="far", grid="g2", skills=[Skill.DRIVING])
    world.helper("staff", building="9", compound="far", grid="g9", roles=[Role.COMMUNITY_STAFF])
    if nurse:
        world.helper("nurse", building="2", compound="far", grid="g2", skills=[Skill.NURSE])


def _driver_and_nurse(world: World, urgency: Urgency = Urgency.URGENT) -> None:
    world.submit(urgency=urgency, skills=(Skill.DRIVING, Skill.NURSE))


def _rings_climbed(world: World) -> list[Ring]:
    return [e.to_ring for e in world.of_type("ring_escalated")]


def test_no_nurse_leaves_the_driver_ladder_on_its_own_clock(world):
    _community(world)
    _driver_and_nurse(world)
    # Urgent: the paired ring is empty for the driver need, its building is not.
    assert _rings_climbed(world) == [Ring.BUILDING]
    assert sorted(world.offered()) == ["driver-a", "driver-b"]
    assert world.of_type("whistle_blown") == []
    assert world.request().step == 1


def test_the_whistle_comes_at_its_normal_time_for_a_nurse_nobody_can_give(world):
    _community(world)
    _driver_and_nurse(world)
    while not world.of_type("whistle_blown"):
        world.tick()
    # The waits of the building, compound, grid and community rungs (the paired one was
    # skipped at once: no paired driver).
    waits = [s.wait_s for s in REFERENCE_PLANS[Urgency.URGENT].steps[1:5]]
    assert world.now == T0 + timedelta(seconds=sum(waits))
    assert _rings_climbed(world)[-1] is Ring.WHISTLE
    assert world.request().status is RequestStatus.OPEN


def test_the_only_nurse_declining_does_not_rush_the_drivers(world):
    _community(world, nurse=True)
    _driver_and_nurse(world)
    assert "nurse" in world.offered()
    world.later(5)
    d = world.decline("nurse")
    assert world.of_type("ring_escalated", d) == []
    assert world.of_type("whistle_blown", d) == []
    assert world.offered(d) == []
    assert world.request().step == 1  # still the building ring, its drivers asked


def test_a_critical_request_without_a_nurse_keeps_its_first_ring(world):
    _community(world)
    _driver_and_nurse(world, Urgency.CRITICAL)
    assert _rings_climbed(world) == []
    assert world.of_type("whistle_blown") == []
    assert "driver-far" not in world.offered()  # another grid: a later ring
    assert world.request().step == 0


def test_a_waiting_remote_need_is_searched_again_at_each_rung(world):
    _community(world)
    _driver_and_nurse(world)
    world.helper("nurse-new", building="2", compound="far", grid="g2", skills=[Skill.NURSE])
    d = world.tick()  # the compound rung
    sent = {o.helper_id: o.remote for o in world.of_type("offer_sent", d)}
    assert sent == {"nurse-new": True}


def test_nothing_left_to_wait_for_but_the_nurse_climbs_to_the_whistle_now(world):
    # The driver accepted; the nurse nobody can give is all that is open and nobody is
    # asked for anything: waiting out the rings only loses time, staff are the help left.
    _community(world)
    _driver_and_nurse(world)
    assert world.of_type("whistle_blown") == []
    d = world.accept("driver-a")
    assert world.of_type("whistle_blown", d)
    assert world.request().status is RequestStatus.OPEN


def test_a_request_for_a_nurse_alone_nobody_can_give_reaches_staff_at_once_and_ends(world):
    # Unchanged: no remote-only request waits with nobody asked; it ends after the whistle.
    _community(world)
    d = world.submit(category=Category.MEDICAL, urgency=Urgency.URGENT, skills=(Skill.NURSE,))
    assert [w.staff_helper_ids for w in world.of_type("whistle_blown", d)] == [("staff",)]
    while not world.request().terminal:
        world.tick()
    assert world.request().status is RequestStatus.EXPIRED
    whistle = REFERENCE_PLANS[Urgency.URGENT].steps[-1]
    assert world.now == T0 + timedelta(seconds=whistle.wait_s)


def test_the_only_nurse_of_a_nurse_alone_request_declining_calls_staff_now(world):
    _community(world, nurse=True)
    world.submit(category=Category.MEDICAL, urgency=Urgency.URGENT, skills=(Skill.NURSE,))
    assert world.of_type("whistle_blown") == []
    d = world.decline("nurse")
    assert [w.staff_helper_ids for w in world.of_type("whistle_blown", d)] == [("staff",)]
