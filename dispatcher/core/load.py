"""Helper load counters: pure functions from one `HelperLoad` to the next (copied with
`updated`, not validated again: every value is an int or a date/UTC time the core made).
An offer's count, the hot path, is `Effects.count_offers`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from dispatcher.core.trusted import updated
from schemas.records import HelperLoad


def local_day(now: datetime, utc_offset_minutes: int) -> date:
    return now.astimezone(timezone(timedelta(minutes=utc_offset_minutes))).date()


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
