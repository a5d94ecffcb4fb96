"""`decide(state, command, now) -> Decision`: the one entry point of the core. Pure: the
state is read, never changed; `apply` stores the decision."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dispatcher.core import assignment_commands as ac
from dispatcher.core import helper_commands as hc
from dispatcher.core import helper_messages as hm
from dispatcher.core import repeat_reports as rr
from dispatcher.core import request_commands as rc
from dispatcher.core import staff_commands as sc
from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.state import Decision, DispatchState
from dispatcher.core.trusted import updated
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    CompleteAssignment,
    DeactivateHelper,
    DeclineOffer,
    FireDeadline,
    MarkOnMyWay,
    PairHousehold,
    ReferRequest,
    ReportDeliveryFailure,
    ReportQuietHoursChanged,
    ReportRepeated,
    ReportStaffNotReached,
    ResolveRequest,
    RewriteHelper,
    SetDoNotDisturb,
    SetHelperOffer,
    SetHelperStatus,
    SubmitRequest,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.helper_messages import ReportWelcomeOutcome, SendHelperSummary, WelcomeHelper
from schemas.staff_actions import CallTeam, ClaimRequest, ReportBack

_EMPTY = Decision()

RequestHandler = Callable[[Effects, RequestDraft, Any], RequestDraft | None]
_REQUEST_HANDLERS: dict[type[Any], RequestHandler] = {
    AcceptOffer: rc.accept,
    DeclineOffer: rc.decline,
    ReportDeliveryFailure: rc.delivery_failed,
    CancelRequest: rc.cancel,
    ResolveRequest: rc.resolve,
    ReferRequest: rc.refer,
    WithdrawHelper: rc.helper_withdrew,
    MarkOnMyWay: ac.on_my_way,
    CompleteAssignment: ac.complete,
    FireDeadline: rc.deadline,
    ReportQuietHoursChanged: rc.quiet_hours_changed,
    ReportRepeated: rr.report_repeated,
    ClaimRequest: sc.claim,
    ReportBack: sc.report_back,
    ReportStaffNotReached: sc.staff_not_reached,
    CallTeam: sc.call_team,
}


def decide(state: DispatchState, command: Command, now: datetime) -> Decision:
    fx = Effects(state, command, now)
    body = command.body

    if isinstance(
        body,
        UpsertHelper
        | DeactivateHelper
        | SetHelperStatus
        | SetDoNotDisturb
        | WelcomeHelper
        | SendHelperSummary
        | SetHelperOffer
        | PairHousehold
        | RewriteHelper
        | ReportWelcomeOutcome,
    ):
        helper_id = body.profile.helper_id if isinstance(body, UpsertHelper) else body.helper_id
        known = state.helpers.get(helper_id)
        if known is not None and command.command_id in known.recent_command_ids:
            return _EMPTY
        # An inactive helper's open offers are stood down: requests change too.
        if isinstance(body, UpsertHelper):
            return fx.decision(hc.upsert_helper(fx, body))
        if isinstance(body, DeactivateHelper):
            return fx.decision(hc.deactivate_helper(fx, body))
        if isinstance(body, SetDoNotDisturb):
            hc.set_do_not_disturb(fx, body)
        elif isinstance(body, WelcomeHelper):
            hm.welcome(fx, body)
        elif isinstance(body, SendHelperSummary):
            hm.summary(fx, body)
        elif isinstance(body, SetHelperOffer):
            hc.set_helper_offer(fx, body)
        elif isinstance(body, PairHousehold):
            hc.pair_household(fx, body)
        elif isinstance(body, RewriteHelper):
            hc.rewrite_helper(fx, body)
        elif isinstance(body, ReportWelcomeOutcome):
            hm.welcome_outcome(fx, body)
        else:
            hc.set_helper_status(fx, body)
        return fx.decision()

    if isinstance(body, SubmitRequest):
        draft = rc.submit(fx, body)
        return _finish(fx, draft)

    request = state.requests.get(body.request_id)
    if request is None:
        rc.reject(fx, body.request_id, "unknown_request")
        return fx.decision()
    if command.command_id in request.recent_command_ids:
        return _EMPTY
    if request.community_id != command.community_id:
        rc.reject(fx, body.request_id, "wrong_community")
        return fx.decision()
    handler = _REQUEST_HANDLERS[type(body)]
    return _finish(fx, handler(fx, RequestDraft.of(request, now), body))


def _finish(fx: Effects, draft: RequestDraft | None) -> Decision:
    if draft is None:
        return fx.decision()
    frozen = draft.freeze(fx.command.command_id)
    fx.sync_presence(frozen, draft.remote)
    if not fx.events and not fx.helpers:
        unchanged = updated(frozen, recent_command_ids=draft.base.recent_command_ids)
        if unchanged == draft.base:
            return _EMPTY  # e.g. an early timer tick with nothing due
    return fx.decision({frozen.request_id: frozen})
