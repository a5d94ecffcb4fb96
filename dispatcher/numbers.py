"""Integers that come from outside (headers, cookies, query strings, form fields, JSON
bodies): one strict reading for all of them. Pure; imports nothing of ours, so every layer
may use it.

`str.isdigit()` and `int()` are too kind for that: `isdigit` takes "²" and other scripts'
digits that `int` then refuses (an uncaught ValueError: a 500 with the raw value in the
log); `int` takes spaces, "_" and "+", and refuses a 5000-digit string (Python's
4300-digit conversion limit). Here a number is ASCII digits, no more of them than the
range's bound has, a leading "-" only when the range has negative numbers, and inside the
range. Anything else is `NotANumber`, whose message names the field, never the value.
"""

from __future__ import annotations

# The last millisecond a `datetime` can show (9999-12-31T23:59:59.999Z): a later epoch
# timestamp is no time at all (`datetime.fromtimestamp` raises on it).
MAX_EPOCH_MS = 253_402_300_799_999
MAX_EPOCH_S = MAX_EPOCH_MS // 1000


class NotANumber(ValueError):
    """Not a whole number in the range. `what` names the field; the value is never kept."""

    def __init__(self, what: str, lo: int, hi: int) -> None:
        super().__init__(f"{what} must be a whole number from {lo} to {hi}")
        self.what = what


def parse_int(text: str | None, what: str, *, lo: int, hi: int) -> int:
    """`text` as an integer in [lo, hi], or `NotANumber` (None and "" included)."""
    if text is None:
        raise NotANumber(what, lo, hi)
    digits = text[1:] if lo < 0 and text.startswith("-") else text
    most = len(str(max(abs(lo), abs(hi))))  # bounds the work before `int` ever runs
    if len(digits) > most or not (digits.isascii() and digits.isdigit()):
        raise NotANumber(what, lo, hi)
    return checked_int(int(text), what, lo=lo, hi=hi)


def checked_int(value: object, what: str, *, lo: int, hi: int) -> int:
    """A JSON value as an integer in [lo, hi]: an int (true and false are not numbers here,
    though Python counts them as ints), or `NotANumber`."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise NotANumber(what, lo, hi)
    return value
