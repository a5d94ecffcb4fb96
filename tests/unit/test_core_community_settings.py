"""A community's configured plan choice and quiet hours in the core (issue 14.1): passed in
as data (`DispatchState.communities`), read when a request is submitted, with `now`."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.policies import policy_for, refresh_policies
from dispatcher.config.view import ConfigView
from dispatcher.core.community import CommunityPolicy
from dispatcher.plans import scaled_plan_sets
from schemas.commands import CancelRequest
from schemas.config import CommunityConfig, QuietHours
from schemas.plans import DEFAULT_PLANS, PLAN_SETS, SMALL_COMPOUND_PLANS
from schemas.records import RequestStatus
from schemas.vocab import Category, Party, Ring, Skill, Urgency
from tests.unit.conftest import COMMUNITY, REFERENCE_PLANS, T0, World

SHANGHAI = ZoneInfo("Asia/Shanghai")  # T0 is 20:00 there


def quiet(start: str, end: str, zone: str = "Asia/Shanghai") -> CommunityPolicy:
    return CommunityPolicy(
        quiet_start=time.fromisoformat(start),
        quiet_end=time.fromisoformat(end),
        zone=ZoneInfo(zone),
    )


def chore(world: World, request_id: str = "req-1", **kw: object) -> None:
    kw.setdefault("urgency", Urgency.NORMAL)
    kw.setdefault("category", Category.ERRAND)
    kw.setdefault("skills", ())
    world.submit(request_id, **kw)


@pytest.fixture
def neighbours(world: World) -> World:
    for hid in ("n1", "n2", "n3"):
        world.helper(hid, skills=[Skill.DRIVING])
    return world


# --- the plan choice -----------------------------------------------------------------------


def test_a_new_request_starts_with_its_communitys_plan_set(neighbours):
    world = neighbours
    world.submit("before", urgency=Urgency.URGENT)
    assert world.request("before").plan == REFERENCE_PLANS[Urgency.URGENT]  # the worker's own
    world.state.communities = {COMMUNITY: CommunityPolicy(plans=SMALL_COMPOUND_PLANS)}
    world.submit("after", urgency=Urgency.URGENT)
    assert world.request("after").plan == SMALL_COMPOUND_PLANS[Urgency.URGENT]
    opened = [e for e in world.of_type("request_opened")]
    assert opened[-1].ladder == SMALL_COMPOUND_PLANS[Urgency.URGENT].steps


def test_a_running_request_keeps_its_snapshot_and_climbs_its_own_ladder(neighbours):
    world = neighbours
    world.submit(urgency=Urgency.URGENT)
    world.state.communities = {COMMUNITY: CommunityPolicy(plans=SMALL_COMPOUND_PLANS)}
    rings = []
    while (r := world.request()).status is RequestStatus.OPEN and r.next_deadline is not None:
        decision = world.tick()
        rings += [b.to_ring for b in world.of_type("ring_escalated", decision)]
    assert world.request().plan == REFERENCE_PLANS[Urgency.URGENT]
    assert Ring.GRID in rings  # the reference ladder's; the small compound plan has none


def test_the_small_compound_plan_reaches_staff_sooner_than_the_standard(neighbours):
    def whistle_after(world: World, request_id: str) -> float:
        start = world.now
        while not world.of_type("whistle_blown", world.tick(request_id)):
            pass
        return (world.now - start).total_seconds()

    world = neighbours
    world.state.communities = {COMMUNITY: CommunityPolicy(plans=DEFAULT_PLANS)}
    chore(world, "std", skills=(Skill.DRIVING,), urgency=Urgency.URGENT)
    standard = whistle_after(world, "std")
    world.state.communities = {COMMUNITY: CommunityPolicy(plans=SMALL_COMPOUND_PLANS)}
    chore(world, "small", skills=(Skill.DRIVING,), urgency=Urgency.URGENT)
    small = whistle_after(world, "small")
    assert small < standard
    # Never later than planned (rings with nobody new to ask are skipped at once).
    steps = SMALL_COMPOUND_PLANS[Urgency.URGENT].steps
    before = next(i for i, s in enumerate(steps) if s.ring is Ring.WHISTLE)
    assert small <= sum(s.wait_s for s in steps[:before]) < standard


def test_plan_sets_are_scaled_together_and_every_set_covers_every_urgency():
    scaled = scaled_plan_sets(0.5)
    assert set(scaled) == set(PLAN_SETS) >= {"standard", "small_compound"}
    for name, plans in PLAN_SETS.items():
        assert set(plans) == set(Urgency), name
        for urgency, plan in plans.items():
            assert plan.steps[-1].ring in (Ring.WHISTLE, Ring.EMERGENCY)  # reaches a person
            assert scaled[name][urgency].lifetime_s == plan.lifetime_s * 0.5


def test_an_unknown_plan_is_refused_when_written_naming_the_known_ones():
    changes = Changes(view=ConfigView(), actor="li", now=T0, production=False)
    with pytest.raises(ConfigError) as refused:
        changes.community({"community_id": "c1", "display_name": "图强社区", "plan": "fast"})
    assert refused.value.code == "unknown_plan"
    assert "small_compound" in str(refused.value) and "standard" in str(refused.value)
    changes.community({"community_id": "c1", "display_name": "图强社区", "plan": "small_compound"})
    assert changes.outcome.records[0].state["plan"] == "small_compound"


def test_the_workers_policies_follow_the_configured_communities():
    sets = scaled_plan_sets(0.1)
    target: dict[str, CommunityPolicy] = {"gone": CommunityPolicy()}
    small = CommunityConfig(
        community_id="c1",
        display_name="图强社区",
        plan="small_compound",
        quiet_hours=QuietHours(start=time(22), end=time(7)),
        time_zone="Asia/Urumqi",
    )
    refresh_policies(target, [small, CommunityConfig(community_id="c2", display_name="二")], sets)
    assert set(target) == {"c1", "c2"}
    assert target["c1"].plans is sets["small_compound"] and target["c2"].plans is sets["standard"]
    assert target["c1"].quiet_start == time(22) and str(target["c1"].zone) == "Asia/Urumqi"
    # A plan this version does not know (written by a newer one) falls back to the standard.
    stranger = CommunityConfig.model_construct(**{**small.__dict__, "plan": "newer"})
    assert policy_for(stranger, sets).plans is sets["standard"]


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        CommunityConfig(community_id="c1", display_name="x", time_zone="Mars/Olympus")


# --- quiet hours ---------------------------------------------------------------------------


def test_a_chore_in_quiet_hours_is_held_until_they_end_then_dispatched(neighbours):
    world = neighbours
    world.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(world)
    release = datetime(2024, 3, 6, 7, 0, tzinfo=SHANGHAI).astimezone(UTC)
    assert world.offered() == []
    held = world.of_type("request_held")
    assert len(held) == 1 and held[0].until == release and held[0].local_time == "07:00"
    r = world.request()
    assert r.status is RequestStatus.OPEN and r.held_until == release
    assert r.next_deadline == release and r.deadline_step == 0
    # Its lifetime (24 h) counted outside quiet hours (19:00-07:00) since session 39, so it
    # never ends in the night: ending as they begin, it ends as they end.
    assert REFERENCE_PLANS[Urgency.NORMAL].lifetime_s == 24 * 3600
    assert r.ends_at == datetime(2024, 3, 8, 7, 0, tzinfo=SHANGHAI).astimezone(UTC)
    decision = world.tick()
    assert world.now == release
    assert world.of_type("request_released", decision)[0].held_since == T0
    assert world.offered(decision)  # the first rung ran at release
    r = world.request()
    assert r.held_until is None and r.step_started_at == release  # (empty rings skipped)


def test_an_early_deadline_leaves_a_held_request_held(neighbours):
    from schemas.commands import FireDeadline

    world = neighbours
    world.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(world)
    world.later(3600)
    decision = world.run(FireDeadline(request_id="req-1", step=0))
    assert not decision.events and world.request().held_until is not None


@pytest.mark.parametrize(
    "urgency,life_threatening",
    [
        (Urgency.CRITICAL, None),
        (Urgency.URGENT, None),
        (Urgency.NORMAL, True),  # a red flag: never held, whatever its urgency
    ],
)
def test_urgent_critical_and_red_flags_go_out_in_quiet_hours(neighbours, urgency, life_threatening):
    world = neighbours
    world.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(world, urgency=urgency, life_threatening=life_threatening, skills=(Skill.DRIVING,))
    assert world.offered() and not world.of_type("request_held")
    assert world.request().held_until is None


def test_a_low_request_outside_quiet_hours_goes_out_at_once(neighbours):
    world = neighbours
    world.state.communities = {COMMUNITY: quiet("22:00", "07:00")}  # T0 is 20:00
    chore(world, urgency=Urgency.LOW)
    assert world.offered() and not world.of_type("request_held")


def test_quiet_hours_are_the_communitys_local_time(neighbours):
    world = neighbours
    # 12:00 UTC is 12:00 in London: outside its 19:00-07:00, inside 11:00-13:00.
    world.state.communities = {COMMUNITY: quiet("19:00", "07:00", "Europe/London")}
    chore(world, "london-evening")
    assert world.offered()
    world.state.communities = {COMMUNITY: quiet("11:00", "13:00", "Europe/London")}
    chore(world, "london-noon")
    held = world.of_type("request_held")
    assert held[-1].until == datetime(2024, 3, 5, 13, 0, tzinfo=UTC)


def test_a_window_within_one_day_and_its_edges(neighbours):
    world = neighbours
    world.state.communities = {COMMUNITY: quiet("13:00", "20:00")}  # T0 is 20:00: just out
    chore(world, "edge")
    assert world.offered() and not world.of_type("request_held")
    world.state.communities = {COMMUNITY: quiet("20:00", "21:30")}  # just in
    chore(world, "start")
    assert world.of_type("request_held")[-1].until == datetime(
        2024, 3, 5, 21, 30, tzinfo=SHANGHAI
    ).astimezone(UTC)


def test_another_communitys_quiet_hours_hold_nothing_here(neighbours):
    world = neighbours
    world.state.communities = {"elsewhere": quiet("19:00", "07:00")}
    chore(world)
    assert world.offered()


def test_a_held_request_can_be_cancelled_and_its_release_then_does_nothing(neighbours):
    world = neighbours
    world.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(world)
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    r = world.request()
    assert r.status is RequestStatus.CANCELLED and r.next_deadline is None
    assert world.offered() == []


def test_a_team_called_onto_a_held_request_has_its_offer_expire_and_the_hold_stays(world):
    from schemas.commands import UpsertHelper
    from schemas.staff_actions import CallTeam

    leader = world.helper("leader")
    world.run(UpsertHelper(profile=leader.model_copy(update={"leads_teams": ("帮帮团",)})))
    world.state.communities = {COMMUNITY: quiet("19:00", "07:00")}
    chore(world, helpers_needed=2)
    world.run(CallTeam(request_id="req-1", team_id="帮帮团", by="li.wei"))  # staff, while held
    [offer] = world.request().offers
    assert world.request().next_deadline == offer.expires_at  # before the release
    decision = world.tick()
    assert world.of_type("offer_expired", decision) and not world.of_type("request_released")
    r = world.request()
    assert r.held_until is not None and r.next_deadline == r.held_until
    world.tick()
    assert world.of_type("request_released")
