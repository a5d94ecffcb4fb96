"""Parse `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_LONGEST = 1e9


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from `now` (an aware datetime), or None if absent or unparseable.

    A date in the past means "now": 0.0.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        # Nine digits are 31 years: a longer delay (past `int`'s 4,300-digit limit, even)
        # is "not for a very long time", not a parse error.
        return float(int(value)) if len(value) <= 9 else _LONGEST
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
