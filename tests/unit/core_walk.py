"""Strategies for random walks over the pure core: a small community of helpers (roles,
skills, teams, pairings, quiet hours), requests of every kind and urgency, and the
community policies that change the ladder (quiet hours, a small compound's plans, a
plan with a team rung). Used by `test_worker_model.py`."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from dispatcher.core.community import CommunityPolicy
from schemas.helpers import HelperProfile, TimeWindow
from schemas.places import PlacePath
from schemas.plans import PLAN_SETS, EscalationPlan, LadderStep, RungAction
from schemas.requests import RequesterContact, RequestSpec, SkillNeed
from schemas.vocab import Category, Ring, Role, Skill, Urgency

COMMUNITY = "siming-xian"
T0 = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
SKILLS = [Skill.DRIVING, Skill.NURSE, Skill.CARRYING, Skill.FIRST_AID, Skill.DOCTOR]
NIGHT = TimeWindow.model_validate({"start": "19:00", "end": "07:00"})
TEAMS = ("t1", "t2")


def _team_plan(u: Urgency) -> EscalationPlan:
    return EscalationPlan(
        urgency=u,
        steps=(
            LadderStep(ring=Ring.BUILDING, wave_size=1, wait_s=60),
            LadderStep(ring=Ring.COMPOUND, action=RungAction.TEAM, wave_size=1, wait_s=120),
            LadderStep(ring=Ring.COMMUNITY, wave_size=2, wait_s=300),
            LadderStep(ring=Ring.WHISTLE, wave_size=2, wait_s=600),
            LadderStep(ring=Ring.EMERGENCY, wave_size=0, wait_s=900),
        ),
        remote_wave_size=2,
        offer_ttl_s=400,
        lifetime_s=3 * 3600,
        respect_do_not_disturb=u is not Urgency.CRITICAL,
    )


TEAM_PLANS = {u: _team_plan(u) for u in Urgency}
QUIET = dict(quiet_start=time(8), quiet_end=time(18), zone=ZoneInfo("Asia/Shanghai"))
POLICIES = [
    None,
    CommunityPolicy(**QUIET),
    CommunityPolicy(plans=PLAN_SETS["small_compound"], plan_name="small_compound"),
    CommunityPolicy(plans=TEAM_PLANS, plan_name="team", **QUIET),
    CommunityPolicy(plans=TEAM_PLANS, plan_name="team"),
]


@st.composite
def helpers(draw, n):
    out = []
    for i in range(n):
        building = draw(st.sampled_from(["1", "2"]))
        compound = draw(st.sampled_from(["tq", "xj"]))
        teams = draw(st.sampled_from([(), ("t1",), ("t2",), TEAMS]))
        role = draw(
            st.sampled_from(
                [Role.VOLUNTEER] * 4
                + [Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGEMENT, Role.GRID_WORKER]
            )
        )
        out.append(
            HelperProfile(
                helper_id=f"h{i}",
                phone=f"139{i:08d}",
                place=PlacePath(
                    community_id=COMMUNITY,
                    grid_id="g1" if compound == "tq" else "g2",
                    compound_id=compound,
                    building_id=building,
                    household_id=f"hh{i}",
                ),
                roles=(role,),
                skills=tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True))),
                party_member=draw(st.booleans()),
                paired_household_ids=("hh-req",) if draw(st.integers(0, 4)) == 0 else (),
                do_not_disturb=NIGHT if draw(st.integers(0, 3)) == 0 else None,
                active=draw(st.integers(0, 9)) > 0,
                teams=teams,
                leads_teams=tuple(t for t in teams if draw(st.booleans())),
            )
        )
    return out


@st.composite
def specs(draw, rid):
    urgency = draw(st.sampled_from(list(Urgency)))
    category = draw(st.sampled_from(list(Category)))
    if draw(st.booleans()):
        needs = tuple(
            SkillNeed(
                skills=tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True))),
                count=draw(st.integers(1, 3)),
            )
            for _ in range(draw(st.integers(1, 2)))
        )
        extra = {"needs": needs, "helpers_needed": sum(x.count for x in needs)}
    else:
        extra = {
            "skills": tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True))),
            "helpers_needed": draw(st.integers(1, 3)),
        }
    return RequestSpec(
        request_id=rid,
        community_id=COMMUNITY,
        place=PlacePath(
            community_id=COMMUNITY,
            grid_id="g1",
            compound_id="tq",
            building_id="1",
            household_id="hh-req",
        ),
        category=category,
        urgency=urgency,
        contact=RequesterContact(),
        notify_property=draw(st.integers(0, 4)) == 0,
        **extra,
    )
