"""The escalation plans the worker uses for new requests (running ones keep their snapshot)."""

from __future__ import annotations

from collections.abc import Mapping

from schemas.plans import DEFAULT_PLANS, PLAN_SETS, EscalationPlan
from schemas.vocab import Urgency


def _scaled(plans: Mapping[Urgency, EscalationPlan], scale: float) -> dict[Urgency, EscalationPlan]:
    if scale == 1.0:
        return dict(plans)
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
        for urgency, plan in plans.items()
    }


def scaled_plans(scale: float) -> dict[Urgency, EscalationPlan]:
    """The default plans with every duration multiplied by `scale` (tests, demo)."""
    return _scaled(DEFAULT_PLANS, scale)


def scaled_plan_sets(scale: float) -> dict[str, dict[Urgency, EscalationPlan]]:
    """Every named plan set (`schemas.plans.PLAN_SETS`), scaled like `scaled_plans`."""
    return {name: _scaled(plans, scale) for name, plans in PLAN_SETS.items()}
