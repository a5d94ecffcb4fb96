"""The behaviour model: every number the simulator assumes about residents and helpers,
with where it comes from. Change a number here (or pass `--behaviour FILE` with the
fields to override) and every policy sees the change.

Sources, cited as [tag] below:
  [seeds]   /shared/seeds (智慧近邻 platform): "over 30 problems handled a day" across a
            district's platform; a pregnant neighbour at 8 pm; an elder at night; burst
            pipes, medicine, carrying, SIM cards by day.
  [HR]      HeartRunner (Sweden): at least one responder accepts for >= 99 % of alarms,
            with ~30 responders alerted per alarm inside a radius.
  [HN]      HartslagNu (Netherlands): 87.5 % of alarms accepted by someone.
  [GS]      GoodSAM London: 1.3 % of alerts accepted (alerts to strangers across a city).
  [assume]  Our own assumption, stated so a community can replace it, ideally by
            `simulate --from-db` (answer rates and delays fitted per helper from the
            project's recorded offers).

Per-offer answer model (common random numbers: the same draw for the same request and
helper under every policy, see `draws.py`):
  p(answer) = base[urgency] * ring[ring] * helper_propensity * night * work_hours
              * fatigue(offers in the last 7 days) * (busy factor when on a job)
  p(accept | answer) = accept_given_answer[urgency]
  delay = median_delay[urgency] * ring_delay[ring] * night_delay * lognormal(sigma)
An answer that comes after the offer was stood down, expired or the request closed is
never sent (the helper saw "已有邻居接手" first).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from schemas.catalogue import entry
from schemas.vocab import Category, Ring, Skill, Urgency


@dataclass(frozen=True)
class CategoryProfile:
    """One kind of request: its share of all requests, its urgency mix. Skills and the
    number of helpers asked for are the catalogue's (the classifier's defaults), except
    where requests of a kind typically name more (the classifier adds them from words)."""

    category: Category
    share: float
    urgency: dict[Urgency, float]
    typical_skills: tuple[Skill, ...] | None = None

    @property
    def skills(self) -> tuple[Skill, ...]:
        if self.typical_skills is not None:
            return self.typical_skills
        return entry(self.category).skills

    @property
    def helpers_needed(self) -> int:
        return entry(self.category).helpers


# [seeds] errands, repairs and carrying dominate by count; medical moments are rare but
# are what the critical plan exists for. Shares [assume], shaped by the seeds' stories.
CATEGORIES: tuple[CategoryProfile, ...] = (
    CategoryProfile(
        Category.MEDICAL,
        0.08,
        {Urgency.CRITICAL: 0.45, Urgency.URGENT: 0.45, Urgency.NORMAL: 0.10},
    ),
    CategoryProfile(
        Category.HOSPITAL_TRANSPORT,
        0.08,
        {Urgency.CRITICAL: 0.35, Urgency.URGENT: 0.50, Urgency.NORMAL: 0.15},
    ),
    CategoryProfile(Category.FALL, 0.05, {Urgency.CRITICAL: 0.50, Urgency.URGENT: 0.50}),
    CategoryProfile(Category.LOST_PERSON, 0.02, {Urgency.CRITICAL: 0.40, Urgency.URGENT: 0.60}),
    CategoryProfile(
        Category.REPAIR,
        0.17,
        {Urgency.URGENT: 0.30, Urgency.NORMAL: 0.60, Urgency.LOW: 0.10},
        (Skill.PLUMBING, Skill.ELECTRICAL),  # "漏水", "跳闸": the words name the trade
    ),
    CategoryProfile(
        Category.ERRAND, 0.25, {Urgency.URGENT: 0.10, Urgency.NORMAL: 0.70, Urgency.LOW: 0.20}
    ),
    CategoryProfile(Category.CARRYING, 0.12, {Urgency.NORMAL: 0.70, Urgency.LOW: 0.30}),
    CategoryProfile(
        Category.COMPANIONSHIP,
        0.08,
        {Urgency.NORMAL: 0.60, Urgency.LOW: 0.40},
        (Skill.ELDER_CARE,),  # who is cared for decides; mostly an elder
    ),
    CategoryProfile(Category.TECH_HELP, 0.10, {Urgency.NORMAL: 0.50, Urgency.LOW: 0.50}),
    CategoryProfile(Category.OTHER, 0.05, {Urgency.NORMAL: 0.60, Urgency.LOW: 0.40}),
)


@dataclass(frozen=True)
class Behaviour:
    # --- requests ----------------------------------------------------------------------
    # [seeds] "over 30 problems handled a day" on the district's platform.
    requests_per_day: float = 30.0
    # Local hour-of-day weights [assume]: a morning and an evening peak, quiet after
    # midnight (the seeds' stories: errands by day, the pregnant neighbour at 8 pm).
    hour_weights: tuple[float, ...] = (
        0.6, 0.4, 0.3, 0.3, 0.3, 0.5, 1.0, 1.6, 2.0, 2.0, 1.8, 1.6,
        1.4, 1.4, 1.5, 1.6, 1.7, 1.8, 2.0, 2.0, 1.8, 1.4, 1.0, 0.8,
    )  # fmt: skip
    # Monday..Sunday [assume]: a little more at weekends (people are home).
    weekday_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.15, 1.15)
    # Share of requests from a household with a paired (结对) helper, where the demo
    # roster has pairings [assume].
    paired_household_share: float = 0.05

    # --- answering an offer ------------------------------------------------------------
    # Daytime probability that a nearby (compound-ring) helper answers at all [assume;
    # [HR]/[HN] bound what a ladder of ~10-30 offers must reach; [GS] is the floor for
    # strangers far away, which the community ring approaches].
    answer_base: dict[Urgency, float] = field(
        default_factory=lambda: {
            Urgency.CRITICAL: 0.55,
            Urgency.URGENT: 0.45,
            Urgency.NORMAL: 0.40,
            Urgency.LOW: 0.35,
        }
    )
    # Of those who answer, how many say "I'll go" [assume].
    accept_given_answer: dict[Urgency, float] = field(
        default_factory=lambda: {
            Urgency.CRITICAL: 0.60,
            Urgency.URGENT: 0.50,
            Urgency.NORMAL: 0.45,
            Urgency.LOW: 0.45,
        }
    )
    # Nearer people feel it is theirs to answer; paired helpers promised to [assume].
    ring_answer: dict[Ring, float] = field(
        default_factory=lambda: {
            Ring.PAIRED: 1.6,
            Ring.BUILDING: 1.25,
            Ring.COMPOUND: 1.0,
            Ring.GRID: 0.8,
            Ring.COMMUNITY: 0.6,
            Ring.WHISTLE: 1.6,  # staff on duty: answering is their job
        }
    )
    ring_delay: dict[Ring, float] = field(
        default_factory=lambda: {
            Ring.PAIRED: 0.8,
            Ring.BUILDING: 0.9,
            Ring.COMPOUND: 1.0,
            Ring.GRID: 1.1,
            Ring.COMMUNITY: 1.2,
            Ring.WHISTLE: 0.7,
        }
    )
    # Median seconds from offer to answer [assume]: a phone buzzing for a critical
    # request is read within a minute; an errand offer is read when convenient.
    median_delay_s: dict[Urgency, float] = field(
        default_factory=lambda: {
            Urgency.CRITICAL: 35.0,
            Urgency.URGENT: 120.0,
            Urgency.NORMAL: 900.0,
            Urgency.LOW: 3600.0,
        }
    )
    delay_sigma: float = 0.8  # lognormal spread of the delay
    # Helpers differ: each has a lifelong propensity, lognormal around 1 [assume].
    helper_propensity_sigma: float = 0.4
    # Local night (asleep): fewer answers, slower [assume].
    night_start_hour: int = 23
    night_end_hour: int = 7
    night_answer: float = 0.45
    night_delay: float = 2.5
    # Weekday working hours: people at work answer presence offers less [assume].
    work_hours: tuple[int, int] = (9, 18)
    work_answer: float = 0.75
    # Fatigue: every offer in the last 7 days beyond `fatigue_free` costs this share of
    # the answer probability, down to `fatigue_floor` [assume].
    fatigue_free: int = 3
    fatigue_per_offer: float = 0.06
    fatigue_floor: float = 0.3
    # On a job right now: rarely takes another [assume].
    busy_answer: float = 0.1
    # Share of helpers who set quiet hours (22:00-07:00) in their profile; the core
    # respects them except for critical requests [assume].
    quiet_hours_share: float = 0.3

    # --- after accepting ---------------------------------------------------------------
    withdraw_share: float = 0.04  # "sorry, cannot come after all" [assume]
    no_show_share: float = 0.02  # accepted and never came [assume]
    withdraw_median_s: float = 300.0
    # Time from the last slot filled to "resolved" by the requester [assume].
    service_median_s: dict[Urgency, float] = field(
        default_factory=lambda: {
            Urgency.CRITICAL: 3600.0,
            Urgency.URGENT: 2700.0,
            Urgency.NORMAL: 2700.0,
            Urgency.LOW: 3600.0,
        }
    )

    # Per-helper ratios fitted from recorded history (`--from-db`): helper id ->
    # (propensity, pace). The propensity replaces the helper's synthetic one (it
    # multiplies `answer_base[urgency]`); the pace multiplies `median_delay_s[urgency]`.
    fitted: dict[str, tuple[float, float]] = field(default_factory=dict)

    def with_overrides(self, data: dict[str, Any]) -> Behaviour:
        """This model with some fields replaced (a `--behaviour` JSON file). Each value
        must have the default's shape and kind; an object merges into the default's."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown behaviour fields: {', '.join(unknown)}")
        out = replace(self, **{k: _coerce(k, getattr(self, k), v) for k, v in data.items()})
        if out.requests_per_day <= 0:
            raise ValueError(f"requests_per_day: must be above 0, not {out.requests_per_day}")
        for name in ("hour_weights", "weekday_weights"):
            if sum(getattr(out, name)) <= 0:
                raise ValueError(f"{name}: at least one weight must be above 0")
        return out


# Whole local hours (0-24), not numbers to scale by.
HOUR_FIELDS = frozenset({"night_start_hour", "night_end_hour", "work_hours"})


def _coerce(name: str, current: Any, value: Any) -> Any:
    """JSON gives lists and string keys; match the default's shape (enum keys, tuples of
    its length) and kind (non-negative numbers, whole hours), or say which value is bad."""
    if name == "fitted":
        return _fitted(value)
    if isinstance(current, dict):
        return _merged(name, current, value)
    if isinstance(current, tuple):
        if not isinstance(value, list) or len(value) != len(current):
            raise ValueError(f"{name}: expected a list of {len(current)} numbers")
        return tuple(
            _number(f"{name}[{i}]", v, type(c), hours=name in HOUR_FIELDS)
            for i, (c, v) in enumerate(zip(current, value, strict=True))
        )
    return _number(name, value, type(current), hours=name in HOUR_FIELDS)


def _merged(name: str, current: dict[Any, float], value: Any) -> dict[Any, float]:
    """The default's entries, with those the file names replaced."""
    key_type = type(next(iter(current)))
    allowed = ", ".join(str(k) for k in current)
    if not isinstance(value, dict):
        raise ValueError(f"{name}: expected an object keyed by {allowed}")
    out = dict(current)
    for key, v in value.items():
        try:
            typed = key_type(key)
        except ValueError:
            raise ValueError(f"{name}: unknown key {key!r} (one of {allowed})") from None
        out[typed] = _number(f"{name}.{key}", v, float)
    return out


def _fitted(value: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(value, dict):
        raise ValueError("fitted: expected an object of helper id -> [propensity, pace]")
    out = {}
    for helper_id, pair in value.items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"fitted.{helper_id}: expected [propensity, pace]")
        out[helper_id] = (
            _number(f"fitted.{helper_id}[0]", pair[0], float),
            _number(f"fitted.{helper_id}[1]", pair[1], float),
        )
    return out


def _number(where: str, value: Any, kind: type, *, hours: bool = False) -> Any:
    """A finite non-negative number of the default's kind (int: a whole number)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and kind is int:
        ok = isinstance(value, int) and (not hours or value <= 24)
    if not ok or not math.isfinite(value) or value < 0:
        wanted = "an hour 0-24" if hours else "a whole number" if kind is int else "a number"
        raise ValueError(f"{where}: expected {wanted} >= 0, got {value!r}")
    return kind(value)


def load_behaviour(path: Path | None) -> Behaviour:
    if path is None:
        return Behaviour()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object of behaviour fields")
        return Behaviour().with_overrides(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
