"""Helper load counters: pure functions from one `HelperLoad` to the next (copied with
`updated`, not validated again: every value is an int or a date/UTC time the core made).
An offer's count, the hot path, is `Effects.count_offers`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from dispatcher.core.trusted import updated
from schemas.records import HelperLoad


def local_day(now: datetime, utc_offset_minutes: int) -> date:
    return now.astimezone(timezone(timedelta(minutes=utc_offset_minutes))).date()


def before_counted_day(load: HelperLoad, today: date) -> bool:
    """`today` is before the day the per-day counters hold: a command stamped just before
    local midnight, applied after one stamped just after it (the API's and the timer's
    clocks interleave). Those counters are the later day's: never moved back a day (nor
    wiped when the next command moves them forward again), only the totals count."""
    return load.day is not None and today < load.day


def accepted(load: HelperLoad, today: date) -> HelperLoad:
    if before_counted_day(load, today):
        return updated(load, accepted_total=load.accepted_total + 1)
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


def answer_taken_back(load: HelperLoad) -> HelperLoad:
    """A no-answer counted for an offer answered after all."""
    return updated(load, no_answer_total=max(0, load.no_answer_total - 1))


def withdrew(load: HelperLoad, no_show: bool) -> HelperLoad:
    if no_show:
        return updated(load, no_show_total=load.no_show_total + 1)
    return updated(load, withdrawn_total=load.withdrawn_total + 1)


def served(load: HelperLoad, seconds: float) -> HelperLoad:
    return updated(load, service_seconds_total=load.service_seconds_total + max(0.0, seconds))
