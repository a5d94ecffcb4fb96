"""The simulated world: the helpers (a district's roster) and the requests that arrive
over the simulated days. Both depend only on the seed and the behaviour model, never on
the policy, so every policy faces exactly the same requests."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from dispatcher.ops import demo_district
from dispatcher.simulate.behaviour import CATEGORIES, Behaviour
from dispatcher.simulate.draws import Draws
from schemas.helpers import CHINA_UTC_OFFSET_MINUTES, HelperProfile, TimeWindow
from schemas.places import PlacePath
from schemas.requests import RequestSpec

LOCAL = timedelta(minutes=CHINA_UTC_OFFSET_MINUTES)
QUIET_HOURS = TimeWindow(start=time(22, 0), end=time(7, 0))


@dataclass(frozen=True)
class Arrival:
    at: datetime  # UTC
    spec: RequestSpec


def demo_roster(behaviour: Behaviour, draws: Draws) -> list[HelperProfile]:
    """The demo district's helpers; a share of them with quiet hours (drawn per helper)."""
    out = []
    for body in demo_district.helpers():
        profile = HelperProfile.model_validate(body)
        (u,) = draws.uniforms("quiet-hours", profile.helper_id, n=1)
        if u < behaviour.quiet_hours_share:
            profile = profile.model_copy(update={"do_not_disturb": QUIET_HOURS})
        out.append(profile)
    return out


def _places(helpers: Sequence[HelperProfile]) -> dict[str, list[PlacePath]]:
    """Each community's buildings, from where its helpers live (sorted: stable)."""
    seen: dict[str, dict[tuple[str, ...], PlacePath]] = {}
    for h in helpers:
        p = h.place
        key = (p.grid_id or "", p.compound_id or "", p.building_id or "")
        bare = p.model_copy(update={"household_id": None, "unit": None, "floor": None})
        seen.setdefault(p.community_id, {}).setdefault(key, bare)
    return {c: [spots[k] for k in sorted(spots)] for c, spots in sorted(seen.items())}


def _paired(helpers: Sequence[HelperProfile]) -> dict[str, list[tuple[str, PlacePath]]]:
    """Per community: households someone is paired with, and where that helper lives."""
    out: dict[str, list[tuple[str, PlacePath]]] = {}
    for h in helpers:
        for household in h.paired_household_ids:
            out.setdefault(h.community_id, []).append((household, h.place))
    return out


def arrivals(
    helpers: Sequence[HelperProfile],
    behaviour: Behaviour,
    *,
    start: datetime,
    days: int,
    seed: int,
) -> list[Arrival]:
    """Requests over `days` local days from `start` (a local midnight, as UTC): a Poisson
    count per hour shaped by hour-of-day and weekday weights, split over communities by
    roster size."""
    rng = random.Random(f"arrivals|{seed}")
    places = _places(helpers)
    paired = _paired(helpers)
    size = {c: sum(1 for h in helpers if h.community_id == c) for c in places}
    communities = list(places)
    weights = [size[c] for c in communities]
    hours = behaviour.hour_weights
    mean_hour = sum(hours) / len(hours)
    mean_day = sum(behaviour.weekday_weights) / len(behaviour.weekday_weights)
    cats = [c for c in CATEGORIES]
    cat_weights = [c.share for c in cats]
    out: list[Arrival] = []
    n = 0
    for day in range(days):
        for hour in range(24):
            hour_start = start + timedelta(days=day, hours=hour)
            weekday = (hour_start + LOCAL).weekday()
            rate = (
                behaviour.requests_per_day
                / 24
                * hours[hour] / mean_hour
                * behaviour.weekday_weights[weekday] / mean_day
            )  # fmt: skip
            for _ in range(_poisson(rng, rate)):
                at = hour_start + timedelta(seconds=round(rng.random() * 3600, 3))
                community = rng.choices(communities, weights)[0]
                profile = rng.choices(cats, cat_weights)[0]
                urgencies = list(profile.urgency)
                urgency = rng.choices(urgencies, [profile.urgency[u] for u in urgencies])[0]
                place = rng.choice(places[community])
                household = f"hh-sim-{n}"
                if paired.get(community) and rng.random() < behaviour.paired_household_share:
                    household, place = rng.choice(paired[community])
                    place = place.model_copy(update={"household_id": None})
                spec = RequestSpec(
                    request_id=f"sim-{n:06d}",
                    community_id=community,
                    place=place.model_copy(update={"household_id": household}),
                    category=profile.category,
                    urgency=urgency,
                    skills=profile.skills,
                    helpers_needed=profile.helpers_needed,
                    text="(simulated)",
                )
                out.append(Arrival(at, spec))
                n += 1
    out.sort(key=lambda a: (a.at, a.spec.request_id))
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small hourly rates here."""
    limit = math.exp(-lam)
    k, p = 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def local_midnight(day: str) -> datetime:
    """`2026-09-01` -> that local midnight in UTC."""
    d = datetime.fromisoformat(day)
    return datetime(d.year, d.month, d.day, tzinfo=UTC) - LOCAL
