"""Policies are escalation plans (data), so each one runs through the same real core:

* `plans`     the project's plans (`schemas.plans.DEFAULT_PLANS`, each urgency's ladder);
* `broadcast` today's practice, the WeChat group: everyone who could help, at once
              (every helper with a fitting skill, and a second later the staff on duty,
              who read the group too);
* `nearest`   radius style as the citizen-responder apps do (GoodSAM alerts the three
              nearest responders): the N nearest per slot at once, the next nearest
              as each one declines or lets the offer lapse, no widening ladder;
* any JSON plan file a community writes: `{"critical": {EscalationPlan fields}, ...}`
  (urgencies left out keep the project's plan); the policy is named after the file,
  which must not share its name with a built-in policy or another file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from schemas.plans import DEFAULT_PLANS, EscalationPlan, LadderStep
from schemas.vocab import Ring, Urgency

Plans = Mapping[Urgency, EscalationPlan]
NEAREST_N = 3
BROADCAST_WAVE = 100  # the largest wave a plan allows: the whole demo community
BUILT_IN = ("plans", "broadcast", "nearest")


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
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object keyed by urgency")
    plans = dict(base)
    for key, body in data.items():
        urgency, plan = _plan(f"{path}:{key}", key, body)
        plans[urgency] = plan
    return plans


def _plan(where: str, key: str, body: object) -> tuple[Urgency, EscalationPlan]:
    """One urgency's plan from a plan file; errors name the file and the urgency."""
    try:
        urgency = Urgency(key)
    except ValueError:
        raise ValueError(f"{where}: not an urgency ({', '.join(Urgency)})") from None
    if not isinstance(body, dict):
        raise ValueError(f"{where}: expected an object of EscalationPlan fields")
    if body.get("urgency", key) != key:
        raise ValueError(f"{where}: the plan says urgency {body['urgency']!r}")
    try:
        return urgency, EscalationPlan.model_validate({**body, "urgency": key})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'plan'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"{where}: {problems}") from None


def resolve_policies(names: list[str], base: Plans = DEFAULT_PLANS) -> dict[str, Plans]:
    """`plans`, `broadcast`, `nearest` or a path to a plan file, in the order given. A
    plan file's policy is named after the file, so a name used twice (two `my.json`, or a
    `plans.json`) is refused rather than one run silently standing for the other."""
    if not names:
        raise ValueError(f"no policy given: {', '.join(BUILT_IN)} or FILE.json")
    out: dict[str, Plans] = {}
    given: dict[str, str] = {}
    for name in names:
        if name in BUILT_IN:
            key, plans = name, _built_in(name, base)
        elif name.endswith(".json"):
            key = Path(name).stem
            if key in BUILT_IN:
                raise ValueError(
                    f"{name}: a plan file may not be named like the built-in policy {key!r}:"
                    " rename the file"
                )
            plans = load_plan_file(Path(name), base)
        else:
            raise ValueError(f"unknown policy {name!r}: {', '.join(BUILT_IN)} or FILE.json")
        if key in given:
            raise ValueError(
                f"{name}: listed twice"
                if given[key] == name
                else f"{name}: policy {key!r} is already {given[key]}'s: each policy needs"
                " its own name (rename one of the files)"
            )
        given[key] = name
        out[key] = plans
    return out


def _built_in(name: str, base: Plans) -> dict[Urgency, EscalationPlan]:
    if name == "broadcast":
        return single_ring(base, BROADCAST_WAVE, staff=True)
    if name == "nearest":
        return single_ring(base, NEAREST_N)
    return dict(base)
