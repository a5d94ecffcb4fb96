"""The communities' settings as the core reads them (`CommunityPolicy`), from the live view.

The worker keeps one dict of these, shared with its core state and rebuilt in place on
every community change (the follower's callback), so a new plan choice or quiet hours
apply to the next request without a restart; running requests keep their plan snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from zoneinfo import ZoneInfo

from dispatcher.core.community import CommunityPolicy
from schemas.config import CommunityConfig
from schemas.plans import STANDARD_PLAN, EscalationPlan
from schemas.vocab import Urgency

log = logging.getLogger(__name__)

PlanSets = Mapping[str, Mapping[Urgency, EscalationPlan]]


def empty_quiet_hours(community: CommunityConfig) -> str | None:
    """Why the community's quiet hours hold nothing, if they start when they end (audit s43
    F6: 22:00-22:00 was accepted and shown as applied; a helper's own such window is refused
    too). Refused when written; one stored before is read as none (`policy_for`)."""
    quiet = community.quiet_hours
    if quiet is None or quiet.start != quiet.end:
        return None
    return (
        f"quiet_hours start when they end ({quiet.start:%H:%M}-{quiet.end:%H:%M}): they would "
        "hold nothing; give an end other than the start (e.g. 22:00-07:00) or leave "
        "quiet_hours out"
    )


def policy_for(community: CommunityConfig, plan_sets: PlanSets) -> CommunityPolicy:
    name = community.plan
    plans = plan_sets.get(name)
    if plans is None:  # written by a version that knew more plans: ours, said once per change
        log.warning(
            "community %s: unknown plan set; using %s", community.community_id, STANDARD_PLAN
        )
        name, plans = STANDARD_PLAN, plan_sets.get(STANDARD_PLAN)
    quiet = community.quiet_hours
    if empty_quiet_hours(community):  # stored before they were refused: none, not "applied"
        quiet = None
    return CommunityPolicy(
        plans=plans,
        plan_name=name,
        quiet_start=None if quiet is None else quiet.start,
        quiet_end=None if quiet is None else quiet.end,
        zone=ZoneInfo(community.time_zone),
    )


def refresh_policies(
    target: MutableMapping[str, CommunityPolicy],
    communities: Iterable[CommunityConfig],
    plan_sets: PlanSets,
) -> None:
    """Replace `target`'s contents in place (the core state holds this very dict)."""
    fresh = {}
    for c in communities:
        if empty_quiet_hours(c):  # said once per change, as the worker reads it
            log.warning("community %s: quiet hours start when they end: none", c.community_id)
        fresh[c.community_id] = policy_for(c, plan_sets)
    target.clear()
    target.update(fresh)
