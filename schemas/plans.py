"""Escalation plans: per urgency, how each ring is tried, how long to wait, when to give up.

A plan is data. It is snapshotted onto each request when it is created, so editing the
configured plans never reshapes an escalation already running.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from schemas._base import Wire
from schemas.vocab import Ring, Urgency

OFFER_RINGS: tuple[Ring, ...] = (
    Ring.PAIRED,
    Ring.BUILDING,
    Ring.COMPOUND,
    Ring.GRID,
    Ring.COMMUNITY,
)
RING_ORDER: dict[Ring, int] = {ring: i for i, ring in enumerate(Ring)}


class RungAction(StrEnum):
    """What a rung does; each has one step function in `dispatcher/core/ladder.py`
    (`RUNGS`). A new kind of rung is a member here plus its entry there."""

    OFFER = "offer"  # offer helpers of the step's ring, `wave_size` per open slot
    WHISTLE = "whistle"  # offer staff on duty and broadcast to the community group
    REFER = "refer"  # refer to the category's referral target (120/110/119, property)
    TEAM = "team"  # offer teams (their leaders) of the step's ring for needs of 2+ slots


# The action of a step whose plan names none: every plan written before steps named
# actions, and the JSON of every plan that uses these (the action is left out then).
DEFAULT_ACTIONS: dict[Ring, RungAction] = {
    **{ring: RungAction.OFFER for ring in OFFER_RINGS},
    Ring.WHISTLE: RungAction.WHISTLE,
    Ring.EMERGENCY: RungAction.REFER,
}


class LadderStep(Wire):
    """One rung: a ring, an action, then wait `wait_s`. OFFER: offer up to `wave_size`
    new helpers of the ring per open slot (helpers of narrower rings not yet offered come
    first). WHISTLE: offer up to `wave_size` staff on duty and broadcast to the community
    group. REFER: refer to the category's referral target."""

    ring: Ring
    # Filled from the ring when a plan names none (`DEFAULT_ACTIONS`), and left out of
    # the JSON when it is the ring's default.
    action: RungAction = RungAction.OFFER
    wave_size: int = Field(default=3, ge=0, le=100)
    wait_s: float = Field(gt=0)

    @model_validator(mode="before")
    @classmethod
    def _default_action(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("action") is None:
            try:
                action = DEFAULT_ACTIONS[Ring(str(data.get("ring")))]
            except (ValueError, TypeError):
                return data  # the ring's own error says what is wrong
            return {**data, "action": action}
        return data

    @model_serializer(mode="wrap")
    def _omit_default_action(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Plans and `RequestOpened.ladder` keep the JSON they had before steps named
        # actions, so readers that refuse unknown fields still read them.
        out = handler(self)
        if isinstance(out, dict) and self.action is DEFAULT_ACTIONS.get(self.ring):
            out.pop("action", None)
        return out


class EscalationPlan(Wire):
    urgency: Urgency
    steps: tuple[LadderStep, ...] = Field(min_length=1)
    # Remote-capable needs (doctor, nurse guiding by phone) are offered across the whole
    # community from the first wave, this many per open slot.
    remote_wave_size: int = Field(default=3, ge=0, le=100)
    offer_ttl_s: float = Field(gt=0)  # an unanswered offer counts as "no answer" after this
    lifetime_s: float = Field(gt=0)  # hard bound: the request is terminal by then
    respect_do_not_disturb: bool = True  # critical requests wake people up
    # Largest number of helpers examined per index bucket for one search; keeps a search's
    # cost flat however large the community grows.
    scan_limit: int = Field(default=256, ge=8, le=100_000)

    @model_validator(mode="after")
    def _ladder_fits_lifetime(self) -> EscalationPlan:
        if sum(s.wait_s for s in self.steps) > self.lifetime_s:
            raise ValueError("the ladder's waits must fit within lifetime_s")
        return self


def _plan(
    urgency: Urgency,
    steps: list[tuple[Ring, int, float]],
    *,
    remote_wave: int,
    offer_ttl_s: float,
    lifetime_s: float,
    respect_dnd: bool = True,
) -> EscalationPlan:
    return EscalationPlan(
        urgency=urgency,
        steps=tuple(LadderStep(ring=r, wave_size=w, wait_s=s) for r, w, s in steps),
        remote_wave_size=remote_wave,
        offer_ttl_s=offer_ttl_s,
        lifetime_s=lifetime_s,
        respect_do_not_disturb=respect_dnd,
    )


# Tuned with the what-if simulator (`python -m dispatcher simulate`, issue 16; numbers in
# README "What-if simulator"). Critical: everyone fitting in the grid in the first second
# (paired, building and compound neighbours still ranked first), the whole community at
# 20 s, staff and the group at 60 s, the emergency referral at 3 min. Urgent, normal and
# low ask one to three per slot and wait longer, so neighbours are not worn out. Every plan
# still ends with staff on duty and the group (the whistle): a request nobody answered, or
# one from a community with no fitting helper, must reach a person, never expire unseen
# (one reopened late, when the rungs left no longer fit its lifetime, climbs to the whistle
# at once: `dispatcher/core/ladder.py` `climb_if_late`; one whose end passed before its
# whistle, a deadline decided late after an outage, climbs to it then and ends only after
# the whistle's wait: `whistle_at_the_end`).
DEFAULT_PLANS: dict[Urgency, EscalationPlan] = {
    Urgency.CRITICAL: _plan(
        Urgency.CRITICAL,
        [
            (Ring.GRID, 10, 20),
            (Ring.COMMUNITY, 12, 40),
            (Ring.WHISTLE, 5, 120),
            (Ring.EMERGENCY, 0, 900),
        ],
        remote_wave=8,
        offer_ttl_s=600,
        lifetime_s=2 * 3600,
        respect_dnd=False,
    ),
    Urgency.URGENT: _plan(
        Urgency.URGENT,
        [
            (Ring.PAIRED, 1, 60),
            (Ring.BUILDING, 2, 120),
            (Ring.COMPOUND, 3, 300),
            (Ring.GRID, 3, 600),
            (Ring.COMMUNITY, 4, 2400),
            (Ring.WHISTLE, 3, 1800),
        ],
        remote_wave=2,
        offer_ttl_s=1800,
        lifetime_s=6 * 3600,
    ),
    Urgency.NORMAL: _plan(
        Urgency.NORMAL,
        [
            (Ring.PAIRED, 1, 600),
            (Ring.BUILDING, 1, 1800),
            (Ring.COMPOUND, 1, 3600),
            (Ring.GRID, 2, 3600),
            (Ring.COMMUNITY, 2, 4 * 3600),
            (Ring.WHISTLE, 3, 4 * 3600),
        ],
        remote_wave=1,
        offer_ttl_s=2 * 3600,
        lifetime_s=24 * 3600,
    ),
    Urgency.LOW: _plan(
        Urgency.LOW,
        [
            (Ring.BUILDING, 1, 3600),
            (Ring.COMPOUND, 2, 4 * 3600),
            (Ring.COMMUNITY, 3, 24 * 3600),
            (Ring.WHISTLE, 3, 24 * 3600),
        ],
        remote_wave=1,
        offer_ttl_s=12 * 3600,
        lifetime_s=72 * 3600,
    ),
}

# A compound with few volunteers (a ring often holds one or two people, or none): the
# standard ladder would mostly wait on nobody. It asks the whole compound at once after
# the paired neighbour (building neighbours still come first within it), reaches the
# community sooner, and calls staff on duty and the group (the whistle) much earlier:
# critical at 30 s (standard 60 s), urgent at 14 min (57 min), normal at 1 h 40 min
# (6 h 40 min), low at 5 h (29 h). Each plan still ends with the whistle.
SMALL_COMPOUND_PLANS: dict[Urgency, EscalationPlan] = {
    Urgency.CRITICAL: _plan(
        Urgency.CRITICAL,
        [
            (Ring.GRID, 10, 15),
            (Ring.COMMUNITY, 12, 15),
            (Ring.WHISTLE, 5, 90),
            (Ring.EMERGENCY, 0, 900),
        ],
        remote_wave=8,
        offer_ttl_s=600,
        lifetime_s=2 * 3600,
        respect_dnd=False,
    ),
    Urgency.URGENT: _plan(
        Urgency.URGENT,
        [
            (Ring.PAIRED, 1, 60),
            (Ring.COMPOUND, 3, 180),
            (Ring.COMMUNITY, 4, 600),
            (Ring.WHISTLE, 3, 1800),
        ],
        remote_wave=2,
        offer_ttl_s=1800,
        lifetime_s=6 * 3600,
    ),
    Urgency.NORMAL: _plan(
        Urgency.NORMAL,
        [
            (Ring.PAIRED, 1, 600),
            (Ring.COMPOUND, 2, 1800),
            (Ring.COMMUNITY, 3, 3600),
            (Ring.WHISTLE, 3, 4 * 3600),
        ],
        remote_wave=1,
        offer_ttl_s=2 * 3600,
        lifetime_s=24 * 3600,
    ),
    Urgency.LOW: _plan(
        Urgency.LOW,
        [
            (Ring.COMPOUND, 2, 3600),
            (Ring.COMMUNITY, 3, 4 * 3600),
            (Ring.WHISTLE, 3, 24 * 3600),
        ],
        remote_wave=1,
        offer_ttl_s=12 * 3600,
        lifetime_s=72 * 3600,
    ),
}

STANDARD_PLAN = "standard"
# The named plan sets a community may choose (`CommunityConfig.plan`); a change applies
# to the community's new requests (running ones keep their snapshot).
PLAN_SETS: dict[str, dict[Urgency, EscalationPlan]] = {
    STANDARD_PLAN: DEFAULT_PLANS,
    "small_compound": SMALL_COMPOUND_PLANS,
}


def check_plan_name(name: str) -> str:
    """`name` if it names a plan set, else a ValueError that lists the known ones."""
    if name not in PLAN_SETS:
        raise ValueError(f"unknown plan {name!r}; known plans: {', '.join(sorted(PLAN_SETS))}")
    return name
