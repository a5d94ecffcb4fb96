"""The welcome and the monthly summary: each recorded on the helper, so sent once.

The push itself is the notify agent's (dispatcher/push/deliveries.py), from the events
emitted here; the core only decides whether this helper still needs it.
"""

from __future__ import annotations

from dispatcher.core.effects import Effects
from dispatcher.core.helper_commands import known_helper
from dispatcher.core.trusted import updated
from schemas.helper_messages import (
    HelperSummarySent,
    HelperWelcomed,
    HelperWelcomeOutcome,
    ReportWelcomeOutcome,
    SendHelperSummary,
    WelcomeHelper,
)
from schemas.records import RECENT_COMMANDS_KEPT, HelperState

SUMMARY_MONTHS_KEPT = 24  # months are sent in order; two years is far beyond a re-run


def _store(fx: Effects, helper: HelperState, **changes: object) -> None:
    recent = (*helper.recent_command_ids, fx.command.command_id)[-RECENT_COMMANDS_KEPT:]
    fx.put_helper(updated(helper, **changes, recent_command_ids=recent))


def welcome(fx: Effects, body: WelcomeHelper) -> None:
    helper = known_helper(fx, body.helper_id)
    if helper is None or helper.welcomed_at is not None or not helper.profile.active:
        return  # welcomed already, or retired: nothing to send
    _store(fx, helper, welcomed_at=fx.now)
    fx.emit(HelperWelcomed(helper_id=helper.helper_id), None)


def welcome_outcome(fx: Effects, body: ReportWelcomeOutcome) -> None:
    """The notify agent's word on a welcome. Not sent: the mark is undone (the next
    `WelcomeHelper` sends it again, e.g. once the helper has a private channel)."""
    helper = known_helper(fx, body.helper_id)
    if helper is None:
        return
    if body.sent:
        _store(fx, helper)
    else:
        _store(fx, helper, welcomed_at=None)
    fx.emit(
        HelperWelcomeOutcome(helper_id=helper.helper_id, sent=body.sent, reason=body.reason),
        None,
    )


def summary(fx: Effects, body: SendHelperSummary) -> None:
    helper = known_helper(fx, body.helper_id)
    if helper is None or body.month in helper.summary_months or not helper.profile.active:
        return  # sent already, or off the roster: their private channel is not ours to use
    months = (*helper.summary_months, body.month)[-SUMMARY_MONTHS_KEPT:]
    _store(fx, helper, summary_months=months)
    fx.emit(
        HelperSummarySent(
            helper_id=helper.helper_id,
            month=body.month,
            requests_helped=body.requests_helped,
            minutes=body.minutes,
        ),
        None,
    )
