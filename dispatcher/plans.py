"""The escalation plans the worker uses for new requests (running ones keep their snapshot)."""

from __future__ import annotations

from schemas.plans import DEFAULT_PLANS, EscalationPlan
from schemas.vocab import Urgency


def scaled_plans(scale: float) -> dict[Urgency, EscalationPlan]:
    """The default plans with every duration multiplied by `scale` (tests, demo)."""
    if scale == 1.0:
        return dict(DEFAULT_PLANS)
    return {
        urgency: plan.model_copy(
            update={
                "steps": tuple(
                    s.model_copy(update={"wait_s": s.wait_s * scale}) for s in plan.steps
                ),
                "offer_ttl_s": plan.offer_ttl_s * scale,
                "lifetime_s": plan.lifetime_s * scale,
            }
        )
        for urgency, plan in DEFAULT_PLANS.items()
    }
