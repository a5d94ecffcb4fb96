"""Helper load counters: pure functions from one `HelperLoad` to the next (copied with
`updated`, not validated again: every value is an int or a date/UTC time the core made)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from dispatcher.core.trusted import updated
from schemas.records import HelperLoad


def local_day(now: datetime, utc_offset_minutes: int) -> date:
    return now.astimezone(timezone(timedelta(minutes=utc_offset_minutes))).date()


def _new_day(load: HelperLoad, today: date) -> dict[str, object]:
    """The per-day counters reset when `today` is not the load's day, else nothing."""
    if load.day == today:
        return {}
    return {"day": today, "offers_today": 0, "assignments_today": 0}


def offered(load: HelperLoad, now: datetime, today: date) -> HelperLoad:
    reset = _new_day(load, today)
    return updated(
        load,
        **{
            **reset,
            "offers_today": (0 if reset else load.offers_today) + 1,
            "offers_total": load.offers_total + 1,
            "last_offered_at": now,
        },
    )


def accepted(load: HelperLoad, today: date) -> HelperLoad:
    reset = _new_day(load, today)
    return updated(
        load,
        **{
            **reset,
            "assignments_today": (0 if reset else load.assignments_today) + 1,
            "accepted_total": load.accepted_total + 1,
        },
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
