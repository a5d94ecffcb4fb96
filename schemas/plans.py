"""Escalation plans: per urgency, how each ring is tried, how long to wait, when to give up.

A plan is data. It is snapshotted onto each request when it is created, so editing the
configured plans never reshapes an escalation already running.
"""

from __future__ import annotations

from pydantic import Field, model_validator

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


class LadderStep(Wire):
    """One rung. For an offer ring: offer up to `wave_size` new helpers per open slot
    (helpers of narrower rings not yet offered come first). For WHISTLE: offer up to
    `wave_size` staff on duty and broadcast to the community group. For EMERGENCY:
    refer to the emergency number for the category. Then wait `wait_s`."""

    ring: Ring
    wave_size: int = Field(default=3, ge=0, le=100)
    wait_s: float = Field(gt=0)


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
# one from a community with no fitting helper, must reach a person, never expire unseen.
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
