"""A message an agent could not decode or process, with the reason and where it came from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import UtcDatetime, Wire


class DeadLetter(Wire):
    v: Literal[1] = 1
    source_topic: str
    partition: int
    offset: int
    key: str | None = None
    reason: str = Field(max_length=2000)
    stage: Literal["decode", "process", "record", "notify"]
    payload_b64: str  # the original bytes, base64: garbage must survive the trip intact
    at: UtcDatetime
