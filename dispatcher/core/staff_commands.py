"""Staff taking a request on (claim), calling a team onto it, and whistle recipients
reporting back (报到).

Claim and report-back change nobody's offers: a claim names the person responsible (neighbours may
still come; staff resolve, cancel or refer when it is done), a report-back tells the
asking group that someone called by the whistle is on it. Calling a team adds one
offer, to its leader."""

from __future__ import annotations

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.offers import send_offers
from dispatcher.core.request_commands import reject
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
