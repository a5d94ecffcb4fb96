"""Staff actions and the whistle's report-backs: their commands and events.

A claim names who took the request on (a staff account name, or a whistle/referral
recipient's id from a one-time link: never a token). A report-back ("报到") is one whistle
recipient saying they are on it; the asking group hears of it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Wire

# Who acted: a staff account name (`li.wei`) or a recipient (`recipient:grid-worker-3`).
Actor = str
ClaimVia = Literal["dashboard", "api", "link"]


class ClaimRequest(Wire):
    """A staff member (or a called recipient, through their link) takes the request on."""

    type: Literal["claim_request"] = "claim_request"
    request_id: str
    by: Actor = Field(min_length=1, max_length=128)
    via: ClaimVia = "dashboard"


class CallTeam(Wire):
    """Staff call a team (to its leader, who accepts for n members) onto a request."""

    type: Literal["call_team"] = "call_team"
    request_id: str
    team_id: str = Field(min_length=1, max_length=64)
    by: Actor = Field(min_length=1, max_length=128)


class ReportBack(Wire):
    """吹哨报到: one recipient of the whistle reports that they are on it."""

    type: Literal["report_back"] = "report_back"
    request_id: str
    recipient: str = Field(min_length=1, max_length=128)
    role: str = Field(default="", max_length=64)  # grid_worker, property, department …
    note: str = Field(default="", max_length=200)


class RequestClaimed(Wire):
    type: Literal["request_claimed"] = "request_claimed"
    by: Actor
    via: ClaimVia = "dashboard"


class WhistleReportedBack(Wire):
    type: Literal["whistle_reported_back"] = "whistle_reported_back"
    recipient: str
    role: str = ""
    note: str = ""
