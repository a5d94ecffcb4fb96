"""Policies are escalation plans (data), so each one runs through the same real core:

* `plans`     the project's plans (`schemas.plans.DEFAULT_PLANS`, each urgency's ladder);
* `broadcast` today's practice, the WeChat group: everyone who could help, at once
              (every helper with a fitting skill, and a second later the staff on duty,
              who read the group too);
* `nearest`   radius style as the citizen-responder apps do (GoodSAM alerts the three
              nearest responders): the N nearest per slot at once, the next nearest
              as each one declines or lets the offer lapse, no widening ladder;
* any JSON plan file a community writes: `{"critical": {EscalationPlan fields}, ...}`
  (urgencies left out keep the project's plan); the policy is named after the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from schemas.plans import DEFAULT_PLANS, EscalationPlan, LadderStep
from schemas.vocab import Ring, Urgency

Plans = Mapping[Urgency, EscalationPlan]
NEAREST_N = 3
BROADCAST_WAVE = 100  # the largest wave a plan allows: the whole demo community


def single_ring(base: Plans, wave: int, *, staff: bool = False) -> dict[Urgency, EscalationPlan]:
    """One rung over the whole community, `wave` per open slot, kept open for the
    request's lifetime (each urgency keeps its offer time, lifetime and quiet hours);
    with `staff`, the staff on duty a second later."""
    out = {}
    for urgency, plan in base.items():
        if staff:
            steps = (
                LadderStep(ring=Ring.COMMUNITY, wave_size=wave, wait_s=1.0),
                LadderStep(ring=Ring.WHISTLE, wave_size=wave, wait_s=plan.lifetime_s - 1.0),
            )
        else:
            steps = (LadderStep(ring=Ring.COMMUNITY, wave_size=wave, wait_s=plan.lifetime_s),)
        out[urgency] = plan.model_copy(update={"steps": steps, "remote_wave_size": wave})
    return out


def load_plan_file(path: Path, base: Plans = DEFAULT_PLANS) -> dict[Urgency, EscalationPlan]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object keyed by urgency")
    plans = dict(base)
    for key, body in data.items():
        urgency = Urgency(key)
        plans[urgency] = EscalationPlan.model_validate({"urgency": urgency.value, **body})
    return plans


def resolve_policies(names: list[str], base: Plans = DEFAULT_PLANS) -> dict[str, Plans]:
    """`plans`, `broadcast`, `nearest` or a path to a plan file, in the order given."""
    out: dict[str, Plans] = {}
    for name in names:
        if name == "plans":
            out[name] = dict(base)
        elif name == "broadcast":
            out[name] = single_ring(base, BROADCAST_WAVE, staff=True)
        elif name == "nearest":
            out[name] = single_ring(base, NEAREST_N)
        elif name.endswith(".json"):
            path = Path(name)
            out[path.stem] = load_plan_file(path, base)
        else:
            raise ValueError(f"unknown policy {name!r}: plans, broadcast, nearest or FILE.json")
    return out
