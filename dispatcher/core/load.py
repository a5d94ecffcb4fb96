"""Helper load counters: pure functions from one `HelperLoad` to the next."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from schemas.records import HelperLoad


def local_day(now: datetime, utc_offset_minutes: int) -> date:
    return now.astimezone(timezone(timedelta(minutes=utc_offset_minutes))).date()


def _rolled(load: HelperLoad, today: date) -> HelperLoad:
    if load.day == today:
        return load
    return load.model_copy(update={"day": today, "offers_today": 0, "assignments_today": 0})


def offered(load: HelperLoad, now: datetime, today: date) -> HelperLoad:
    load = _rolled(load, today)
    return load.model_copy(
        update={
            "offers_today": load.offers_today + 1,
            "offers_total": load.offers_total + 1,
            "last_offered_at": now,
        }
    )


def accepted(load: HelperLoad, today: date) -> HelperLoad:
    load = _rolled(load, today)
    return load.model_copy(
        update={
            "assignments_today": load.assignments_today + 1,
            "accepted_total": load.accepted_total + 1,
        }
    )


def declined(load: HelperLoad) -> HelperLoad:
    return load.model_copy(update={"declined_total": load.declined_total + 1})


def no_answer(load: HelperLoad) -> HelperLoad:
    return load.model_copy(update={"no_answer_total": load.no_answer_total + 1})


def withdrew(load: HelperLoad, no_show: bool) -> HelperLoad:
    if no_show:
        return load.model_copy(update={"no_show_total": load.no_show_total + 1})
    return load.model_copy(update={"withdrawn_total": load.withdrawn_total + 1})


def served(load: HelperLoad, seconds: float) -> HelperLoad:
    return load.model_copy(
        update={"service_seconds_total": load.service_seconds_total + max(0.0, seconds)}
    )
