"""The helper's own messages (issue 14 item 3): the welcome with their personal page, and
the monthly summary. Commands and events, appended to the unions in commands.py/events.py.

Both are recorded in the helper's state (`welcomed_at`, `summary_months`), so sending them
again is a no-op: the staff commands may be re-run safely. A welcome that reached nobody
(no private channel, or the push failed for good) is reported back by the notify agent
(`ReportWelcomeOutcome`) and unmarked, so a later run welcomes that helper.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Wire

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class WelcomeHelper(Wire):
    """Send the helper the welcome (their personal page link) unless already welcomed."""

    type: Literal["welcome_helper"] = "welcome_helper"
    helper_id: str = Field(min_length=1)


class SendHelperSummary(Wire):
    """The helper's month, as the record counted it (done assignments, minutes), sent once
    per helper per month."""

    type: Literal["send_helper_summary"] = "send_helper_summary"
    helper_id: str = Field(min_length=1)
    month: str = Field(pattern=MONTH_PATTERN)  # local calendar month, "2026-11"
    requests_helped: int = Field(ge=0)
    minutes: int = Field(ge=0)


class HelperWelcomed(Wire):
    """The welcome goes to the helper's private channel (never a group)."""

    type: Literal["helper_welcomed"] = "helper_welcomed"
    helper_id: str


class ReportWelcomeOutcome(Wire):
    """From the notify agent: whether the welcome reached the helper's private channel.
    `sent=False` (no private channel, or the push failed for good) undoes the welcome's
    mark, so a later `welcome` run sends it once a channel exists."""

    type: Literal["report_welcome_outcome"] = "report_welcome_outcome"
    helper_id: str = Field(min_length=1)
    sent: bool
    reason: str = Field(default="", max_length=200)  # why not sent; never contact details


class HelperWelcomeOutcome(Wire):
    """What became of a welcome: delivered to a private channel, or not (and why)."""

    type: Literal["helper_welcome_outcome"] = "helper_welcome_outcome"
    helper_id: str
    sent: bool
    reason: str = ""


NO_PRIVATE_CHANNEL = "no private channel"


class HelperSummarySent(Wire):
    type: Literal["helper_summary_sent"] = "helper_summary_sent"
    helper_id: str
    month: str
    requests_helped: int
    minutes: int
