"""From one policy's run to the numbers people compare (plain JSON, rounded, ordered).

Notifications are people pinged per request: each helper offered, or the whole community
group when the whistle blew. Per-helper load (offers per week, Gini, night) counts
volunteers; staff on duty (the whistle ring) are reported apart (`max_offers_per_staff_week`).
Time-to-accept percentiles are over requests that got an accept; the share that never did
is `never_answered_share`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dispatcher.simulate.engine import WEEK_S
from dispatcher.simulate.outcomes import Run
from dispatcher.stats import percentile
from schemas.vocab import Urgency

CRITICAL_WITHIN_S = 120.0
# The goal for the project's plans (issue 16).
GOAL_CRITICAL_WITHIN_2MIN = 0.95
GOAL_NOTIFICATION_RATIO = 0.2  # at most a fifth of a broadcast's notifications
GOAL_MAX_OFFERS_WEEK = 10


def gini(values: list[float]) -> float:
    """0: everyone equally loaded; 1: one helper gets everything."""
    n = len(values)
    total = sum(values)
    if n == 0 or total == 0:
        return 0.0
    ordered = sorted(values)
    weighted = sum((i + 1) * v for i, v in enumerate(ordered))
    return (2 * weighted) / (n * total) - (n + 1) / n


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def summarise(run: Run) -> dict[str, Any]:
    outcomes = list(run.outcomes.values())
    n = len(outcomes)
    answered = [o for o in outcomes if o.first_accept_s is not None]
    by_urgency: dict[str, dict[str, Any]] = {}
    never_by_urgency: dict[str, float | None] = {}
    for urgency in Urgency:
        group = [o for o in outcomes if o.urgency is urgency]
        waits = sorted(
            o.first_accept_s - o.created_s for o in group if o.first_accept_s is not None
        )
        by_urgency[urgency.value] = {
            "n": len(group),
            "answered": len(waits),
            "p50": _r(percentile(waits, 0.50), 1),
            "p90": _r(percentile(waits, 0.90), 1),
            "p99": _r(percentile(waits, 0.99), 1),
        }
        never_by_urgency[urgency.value] = _r(1 - len(waits) / len(group)) if group else None
    critical = [o for o in outcomes if o.urgency is Urgency.CRITICAL]
    fast = [
        o
        for o in critical
        if o.first_accept_s is not None and o.first_accept_s - o.created_s <= CRITICAL_WITHIN_S
    ]
    notifications = sum(o.notified for o in outcomes)
    week_counts: Counter[tuple[str, int]] = Counter()
    for hid, offers in run.helpers.items():
        for t in offers.times_s:
            week_counts[(hid, int(t // WEEK_S))] += 1
    volunteer_weeks = [c for (h, _), c in week_counts.items() if h not in run.staff_ids]
    staff_weeks = [c for (h, _), c in week_counts.items() if h in run.staff_ids]
    weeks = run.days / 7  # a 3-day run's offers count for 3/7 of a week
    volunteers = [h for h in run.helper_ids if h not in run.staff_ids]
    per_helper = [len(run.helpers[h].times_s) for h in volunteers]
    multi = [o for o in outcomes if o.slots > 1]
    multi_slots = sum(o.slots for o in multi)
    return {
        "requests": n,
        "critical_requests": len(critical),
        "critical_accepted_within_2min": _r(len(fast) / len(critical)) if critical else None,
        "time_to_accept_s": by_urgency,
        "answered_share": _r(len(answered) / n) if n else None,
        "never_answered_share": _r(1 - len(answered) / n) if n else None,
        "never_answered_share_by_urgency": never_by_urgency,
        "escalated_to_staff_share": _r(sum(o.whistle for o in outcomes) / n) if n else None,
        "referred_to_emergency": sum(o.emergency_referral for o in outcomes),
        "offers": sum(o.offers for o in outcomes),
        "notifications": notifications,
        "notifications_per_answered": _r(notifications / len(answered), 2) if answered else None,
        "group_broadcasts": sum(o.whistle for o in outcomes),
        "offers_per_helper_week_mean": _r(sum(per_helper) / len(per_helper) / weeks, 2)
        if per_helper
        else None,
        "max_offers_per_helper_week": max(volunteer_weeks, default=0),
        "max_offers_per_staff_week": max(staff_weeks, default=0),
        "offers_gini": _r(gini([float(v) for v in per_helper])),
        "helpers_bothered_at_night": sum(1 for h in volunteers if run.helpers[h].night),
        "night_offers": sum(run.helpers[h].night for h in volunteers),
        "multi_helper_requests": len(multi),
        "multi_helper_filled_slots_share": _r(sum(o.filled_slots for o in multi) / multi_slots)
        if multi_slots
        else None,
        "withdrawals": sum(o.withdrawals for o in outcomes),
        "no_shows": sum(o.no_shows for o in outcomes),
        "commands_decided": run.commands,
    }


def check_word(ok: bool | None) -> str:
    """How a goal check reads in the table and the report."""
    return "not measured" if ok is None else "ok" if ok else "MISSED"


def goal_check(policies: dict[str, dict[str, Any]], name: str = "plans") -> dict[str, Any] | None:
    """The issue's goal for the plans, against the broadcast on the same requests. A check
    the run cannot measure (no critical request, no broadcast to compare with) is None,
    "not measured", and left out of `met` rather than counted as missed."""
    plans = policies.get(name)
    if plans is None:
        return None
    within = plans["critical_accepted_within_2min"]
    broadcast = policies.get("broadcast")
    theirs = broadcast["notifications_per_answered"] if broadcast else None
    ours = plans["notifications_per_answered"]
    ratio = ours / theirs if ours and theirs else None
    # Plans that got no answer where the broadcast did are compared, and miss.
    vs_broadcast = None if not theirs else ratio is not None and ratio <= GOAL_NOTIFICATION_RATIO
    fast_enough = None if within is None else within >= GOAL_CRITICAL_WITHIN_2MIN
    checks = {
        "critical_accepted_within_2min": fast_enough,
        "notifications_vs_broadcast": vs_broadcast,
        "max_offers_per_helper_week": plans["max_offers_per_helper_week"] <= GOAL_MAX_OFFERS_WEEK,
    }
    return {
        "policy": name,
        "notifications_vs_broadcast": _r(ratio),
        "checks": checks,
        "met": all(v for v in checks.values() if v is not None),
    }
