"""`dispatcher.numbers`: the one reading of integers that come from outside. ASCII digits
only (`str.isdigit` takes "²", "٣" and "３"), no more digits than the bound has (int()
refuses past 4300 and costs before that), a "-" only where the range has negatives, and
the range; the refusal names the field and never carries the value (it reaches logs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatcher.numbers import MAX_EPOCH_MS, MAX_EPOCH_S, NotANumber, checked_int, parse_int
from dispatcher.record.edge.group_threads import expiry_from_ms


@pytest.mark.parametrize(
    ("text", "lo", "hi", "value"),
    [
        ("0", 0, 10, 0),
        ("10", 0, 10, 10),
        ("007", 0, 999, 7),  # leading zeros within the bound's digits
        ("1700000000", 0, MAX_EPOCH_S, 1_700_000_000),
        ("-5", -10, 10, -5),
        ("-10", -10, 10, -10),
        (str(MAX_EPOCH_MS), 0, MAX_EPOCH_MS, MAX_EPOCH_MS),
    ],
)
def test_ascii_digits_in_range_are_read(text: str, lo: int, hi: int, value: int) -> None:
    assert parse_int(text, "n", lo=lo, hi=hi) == value


NOT_NUMBERS = [
    None,
    "",
    "²",  # superscript two: isdigit() is true, int() raises
    "¹¹",
    "٣",  # Arabic-Indic three: int() reads it, but it is no ASCII digit
    "３",  # fullwidth three
    "--5",
    "-",
    "-5",  # no negatives in [0, hi]
    "+5",
    " 5",
    "5 ",
    "5\n",
    "1_000",
    "1e3",
    "0x10",
    "9" * 5000,  # past int()'s 4300-digit limit
    "0" * 20 + "1",  # more digits than the bound has, even if the value is small
]


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_anything_else_is_not_a_number(text: str | None) -> None:
    with pytest.raises(NotANumber) as info:
        parse_int(text, "minutes", lo=0, hi=1440)
    assert info.value.what == "minutes"
    assert str(info.value) == "minutes must be a whole number from 0 to 1440"


@pytest.mark.parametrize(("text", "lo", "hi"), [("11", 0, 10), ("-11", -10, 10), ("5", 6, 9)])
def test_out_of_range_is_not_a_number(text: str, lo: int, hi: int) -> None:
    with pytest.raises(NotANumber):
        parse_int(text, "n", lo=lo, hi=hi)


def test_the_refusal_is_a_value_error_without_the_value() -> None:
    with pytest.raises(ValueError, match=r"^ts must be") as info:
        parse_int("--5", "ts", lo=0, hi=10)
    assert "--5" not in str(info.value) and "--5" not in repr(info.value)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None, [1], 10**30, -1])
def test_a_json_value_must_be_an_int_in_range(value: object) -> None:
    with pytest.raises(NotANumber):
        checked_int(value, "n", lo=0, hi=MAX_EPOCH_MS)
    assert checked_int(5, "n", lo=0, hi=10) == 5


def test_the_epoch_bounds_are_times_a_datetime_shows() -> None:
    assert datetime.fromtimestamp(MAX_EPOCH_MS / 1000, UTC).year == 9999
    assert datetime.fromtimestamp(MAX_EPOCH_S, UTC).year == 9999


@pytest.mark.parametrize("ms", [10**30, -(10**18)])
def test_a_webhook_expiry_no_clock_shows_is_refused_before_fromtimestamp(ms: int) -> None:
    """The adapter refuses these (400); here, behind it, a NotANumber names the field
    where `fromtimestamp` raised OverflowError or "year -31686769 is out of range"."""
    with pytest.raises(NotANumber):
        expiry_from_ms(ms)
    assert expiry_from_ms(None) is None
    assert expiry_from_ms(1_700_000_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
