"""Helper load counters: pure functions from one `HelperLoad` to the next (copied with
`updated`, not validated again: every value is an int or a date/UTC time the core made)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from dispatcher.core.trusted import replaced, updated
from schemas.records import HelperLoad


def local_day(now: datetime, utc_offset_minutes: int) -> date:
    return now.astimezone(timezone(timedelta(minutes=utc_offset_minutes))).date()


_OFFERED_NEW_DAY = frozenset(
    ("day", "offers_today", "assignments_today", "offers_total", "last_offered_at")
)
_OFFERED = frozenset(("offers_today", "offers_total", "last_offered_at"))


def offered(load: HelperLoad, now: datetime, today: date) -> HelperLoad:
    # Runs once per offer sent: the copied `__dict__` edited in place (`replaced`).
    d = load.__dict__.copy()
    if d["day"] != today:  # a new day: the per-day counters start again
        d["day"] = today
        d["offers_today"] = 1
        d["assignments_today"] = 0
        changed = _OFFERED_NEW_DAY
    else:
        d["offers_today"] += 1
        changed = _OFFERED
    d["offers_total"] += 1
    d["last_offered_at"] = now
    return replaced(load, d, changed)


def accepted(load: HelperLoad, today: date) -> HelperLoad:
    if load.day != today:
        return updated(
            load,
            day=today,
            offers_today=0,
            assignments_today=1,
            accepted_total=load.accepted_total + 1,
        )
    return updated(
        load,
        assignments_today=load.assignments_today + 1,
        accepted_total=load.accepted_total + 1,
    )


def declined(load: HelperLoad) -> HelperLoad:
    return updated(load, declined_total=load.declined_total + 1)


def no_answer(load: HelperLoad) -> HelperLoad:
    return updated(load, no_answer_total=load.no_answer_total + 1)


def withdrew(load: HelperLoad, no_show: bool) -> HelperLoad:
    if no_show:
        return updated(load, no_show_total=load.no_show_total + 1)
    return updated(load, withdrawn_total=load.withdrawn_total + 1)


def served(load: HelperLoad, seconds: float) -> HelperLoad:
    return updated(load, service_seconds_total=load.service_seconds_total + max(0.0, seconds))
