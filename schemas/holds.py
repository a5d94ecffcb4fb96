"""Events of a request held for its community's quiet hours (issue 14.1)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import UtcDatetime, Wire


class RequestHeld(Wire):
    """A non-urgent request came in during the community's quiet hours: nobody is asked
    until `until`; the requester's group is told it goes out at `local_time`."""

    type: Literal["request_held"] = "request_held"
    until: UtcDatetime
    local_time: str = Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")  # the community's HH:MM
    reason: Literal["quiet_hours"] = "quiet_hours"


class RequestReleased(Wire):
    """Quiet hours ended: the held request's ladder starts now."""

    type: Literal["request_released"] = "request_released"
    held_since: UtcDatetime
