"""Staff taking a request on (claim), calling a team onto it, whistle recipients
reporting back (报到), and a whistle or referral that reached none of them.

Claim and report-back change nobody's offers: a claim names the person responsible (neighbours may
still come; staff resolve, cancel or refer when it is done), and from then the ladder's
whistle and referral rungs call nobody (`ladder.calls_staff`), their waits kept; a
report-back tells the asking group that someone called by the whistle is on it. Calling
a team adds one offer, to its leader."""

from __future__ import annotations

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.ladder import advance
from dispatcher.core.offers import send_offers
from dispatcher.core.request_commands import reject
from schemas.commands import ReportStaffNotReached
from schemas.events import CalledRung, StaffNotReached
from schemas.plans import RungAction
from schemas.records import RequestStatus
from schemas.staff_actions import (
    CallTeam,
    ClaimRequest,
    ReportBack,
    RequestClaimed,
    WhistleReportedBack,
)


def claim(fx: Effects, d: RequestDraft, body: ClaimRequest) -> RequestDraft | None:
    if d.claimed_by == body.by:
        return None  # a second press by the same person
    if d.terminal:
        reject(fx, d.request_id, "request_closed", detail=d.status.value)
        return None
    if d.claimed_by is not None:
        # First claim wins: two people each believing the other has it is the failure
        # this prevents. Handing over is a later feature (release, then claim).
        reject(fx, d.request_id, "already_claimed", detail=d.claimed_by)
        return None
    d.claimed_by = body.by
    d.claimed_at = fx.now
    fx.emit(RequestClaimed(by=body.by, via=body.via), d.request_id)
    return d


def report_back(fx: Effects, d: RequestDraft, body: ReportBack) -> RequestDraft | None:
    if body.recipient in d.reported_back:
        return None  # the link pressed twice
    if not d.whistle_blown:
        reject(fx, d.request_id, "not_whistled", detail=body.recipient)
        return None
    if d.terminal:
        reject(fx, d.request_id, "request_closed", detail=d.status.value)
        return None
    d.reported_back = (*d.reported_back, body.recipient)
    fx.emit(
        WhistleReportedBack(recipient=body.recipient, role=body.role, note=body.note),
        d.request_id,
    )
    return d


def call_team(fx: Effects, d: RequestDraft, body: CallTeam) -> RequestDraft | None:
    """One team offer, to the team's best available leader, the way a team rung makes it
    (for any open presence need, the leader accepting for n members). Once per team and
    request: its leader's offer id is fixed by the request and the helper."""
    if d.terminal:
        reject(fx, d.request_id, "request_closed", detail=d.status.value)
        return None
    if d.status is not RequestStatus.OPEN:  # filled: the ladder is paused
        reject(fx, d.request_id, "no_open_slot", detail=body.team_id)
        return None
    if any(o.team_id == body.team_id for o in d.offers):
        reject(fx, d.request_id, "already_offered", detail=body.team_id)
        return None
    team = fx.state.index.team(d.ctx, body.team_id)
    if team is None:
        reject(fx, d.request_id, "no_team_leader", detail=body.team_id)
        return None
    leader = team.leader.helper_id
    if leader in d.offered_helpers():
        reject(fx, d.request_id, "already_offered", helper_id=leader, detail=body.team_id)
        return None
    teams = {leader: (team.team_id, team.size)}
    if not send_offers(fx, d, [team.leader], any_presence=True, teams=teams, staff_call=True):
        reject(fx, d.request_id, "no_open_slot", detail=body.team_id)
        return None
    return d


_RUNG_ACTIONS: dict[CalledRung, RungAction] = {
    "whistle": RungAction.WHISTLE,
    "referral": RungAction.REFER,
}


def staff_not_reached(
    fx: Effects, d: RequestDraft, body: ReportStaffNotReached
) -> RequestDraft | None:
    """Nobody the rung called was reached: recorded on the request (the dashboard shows
    "值班人员未联系上"), closed or not. Still waiting on that rung, unclaimed, the request
    is not left to wait for answers from people who never heard: it climbs to the next
    rung now (after a whistle, the referral), or, on the last rung, the rung's wait starts
    again from now, so it does not expire on a call nobody got before staff saw the flag."""
    steps = d.plan.steps
    if not (body.step <= d.step and body.step < len(steps)):
        return None  # a report about a rung this request never reached
    if steps[body.step].action is not _RUNG_ACTIONS[body.rung]:
        return None
    fx.emit(
        StaffNotReached(
            rung=body.rung,
            step=body.step,
            recipients=body.recipients,
            roles=body.roles,
            reason=body.reason,
        ),
        d.request_id,
    )
    if _still_waiting_on(d, body):
        if body.step + 1 < len(steps):
            advance(fx, d)
        else:
            d.step_started_at = fx.now
    return d


def _still_waiting_on(d: RequestDraft, body: ReportStaffNotReached) -> bool:
    """The request waits on the rung that called, unclaimed, and its wait has not been
    restarted since the call (so a report read twice moves the ladder once)."""
    return (
        d.status is RequestStatus.OPEN
        and d.step == body.step
        and d.claimed_by is None
        and d.step_started_at <= body.called_at
    )
