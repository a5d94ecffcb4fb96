"""The base every wire model shares: frozen, strict about unknown fields, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Wire(BaseModel):
    """Frozen and `extra="forbid"`: a typo in a producer fails loudly at the edge."""

    # hide_input_in_errors: a ValidationError's text never repeats the payload (phones).
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def require_utc(value: datetime) -> datetime:
    # Naive datetimes are ambiguous across the bot, the API and the database: refuse them,
    # and normalise aware ones to UTC so comparisons and JSON are uniform.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(require_utc)]


def unset(value: object) -> bool:
    """`Field(exclude_if=unset)`: a field added later is left out of the JSON while it holds
    its empty default, so records and events without it keep their earlier bytes (readers
    that refuse unknown fields still read them; replays hash the same)."""
    return value is None or value == () or value == 0


def absent(value: object) -> bool:
    """`Field(exclude_if=absent)`: as `unset`, for a count whose 0 says something (None is
    "not known": events written before the field)."""
    return value is None


def single(value: object) -> bool:
    """`Field(exclude_if=single)`: as `unset`, for a count whose default is 1."""
    return value == 1
