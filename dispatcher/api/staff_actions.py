"""Staff actions on a request from the dashboard or the API: claim, refer (120/110/119,
property or a named department), resolve, cancel, call a team, release a helper who is not
coming (a no-show).

Each is one command on the `commands` topic (the one write path) and one `staff_actions`
row naming the account (never its token). An account acts only in its communities (403
otherwise, before anything is written). The dashboard authenticates with its session
cookie, so every cookie-borne action must carry the session's anti-CSRF token in
`X-CSRF-Token` (and a cross-origin `Origin` is refused outright); a bearer-token caller
sends no ambient credential and needs none.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field, model_validator

from dispatcher.api.auth import (
    audit_staff,
    authenticate_staff,
    bearer,
    session_account,
    session_csrf,
)
from dispatcher.api.command_queue import produce
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.models import Body, CommandAccepted
from dispatcher.api.requests import community_of_request
from dispatcher.api.staff_accounts import StaffAccount
from dispatcher.api.staff_pages import COOKIE, require_staff_ops
from dispatcher.record.edge import staff_actions as audit_rows
from dispatcher.record.read import assignments as read_assignments
from dispatcher.record.read import dashboard as read_dashboard
from dispatcher.redact import masked
from dispatcher.sealing import keyring, seal_closing
from schemas.commands import (
    CancelRequest,
    CommandBody,
    ReferRequest,
    ResolveRequest,
    WithdrawHelper,
    new_command,
)
from schemas.staff_actions import CallTeam, ClaimRequest, ClaimVia
from schemas.vocab import Party, ReferralTarget

CSRF_HEADER = "x-csrf-token"

router = APIRouter(prefix="/ops/v1", tags=["ops"])
RequestId = Annotated[str, Path(min_length=1, max_length=64)]
HelperId = Annotated[str, Path(min_length=1, max_length=128)]


class Acting(BaseModel):
    account: StaffAccount
    via: ClaimVia


# What a browser's `Sec-Fetch-Site` says of a request another site's page started.
FOREIGN_FETCH = frozenset({"cross-site", "same-site"})


def same_origin(request: Request) -> bool:
    """No browser says this request came from another site's page: its `Sec-Fetch-Site`
    (when sent) is not `cross-site`/`same-site`, and its `Origin` (when sent) is this host.
    A form posted under `Referrer-Policy: no-referrer` carries `Origin: null`; the browser's
    `Sec-Fetch-Site: same-origin` then vouches for it. The staff actions and the dashboard's
    sign-in and sign-out check it."""
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    if site in FOREIGN_FETCH:
        return False
    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and site == "same-origin"):
        return True  # not sent by every browser on same-origin requests; the token decides
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:  # "http://[": no origin of ours
        return False
    return netloc == request.headers.get("host", "")


def _csrf_matches(sent: str, good: str) -> bool:
    # Headers arrive as Latin-1 text; compare_digest refuses non-ASCII str (TypeError), and
    # our token is ASCII, so a non-ASCII one is simply wrong.
    return sent.isascii() and hmac.compare_digest(sent, good)


async def acting_staff(request: Request) -> Acting:
    """The staff account behind this action, with CSRF checked for cookie sessions."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        account = authenticate_staff(request, bearer(authorization))
        via: ClaimVia = "api"
    else:
        cookie = request.cookies.get(COOKIE)
        account = session_account(request, cookie)
        if account is not None:
            sent = request.headers.get(CSRF_HEADER, "")
            good = session_csrf(request, cookie or "")
            if not same_origin(request) or not _csrf_matches(sent, good):
                raise fail(403, "csrf", "missing or wrong X-CSRF-Token for this session")
        via = "dashboard"
    if account is None:
        raise HTTPException(status_code=401, detail="staff token required")
    await audit_staff(request, account)
    return Acting(account=account, via=via)


ActingStaff = Annotated[Acting, Depends(acting_staff)]


# `Body`: what PostgreSQL cannot hold (NUL, a lone surrogate) is a 422 here, not a 500 at
# the staff audit row (`detail`: the department, the team) or in a command.
class NoteIn(Body):
    note: str = Field(default="", max_length=200)


class ReferIn(NoteIn):
    to: ReferralTarget
    department: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _department_named(self) -> ReferIn:
        if (self.to is ReferralTarget.DEPARTMENT) != bool(self.department.strip()):
            raise ValueError("name the department exactly when referring to a department")
        return self


class CallTeamIn(Body):
    team_id: str = Field(min_length=1, max_length=64)


class SessionOut(BaseModel):
    staff: str
    communities: list[str]
    district_wide: bool
    csrf: str | None  # None for bearer callers: they need none


@router.get("/session", response_model=SessionOut, dependencies=[Depends(require_staff_ops)])
async def staff_session(request: Request) -> SessionOut:
    """Who is signed in, and the anti-CSRF token the dashboard sends with each action."""
    account: StaffAccount = request.state.staff
    cookie = request.cookies.get(COOKIE)
    by_cookie = request.headers.get("authorization") is None and cookie is not None
    return SessionOut(
        staff=account.name,
        communities=sorted(account.communities),
        district_wide=account.district_wide,
        csrf=session_csrf(request, cookie) if by_cookie and cookie else None,
    )


async def in_scope(deps: ApiDeps, account: StaffAccount, request_id: str) -> str:
    """The request's community, when this account may act in it (404 unknown, 403 not)."""
    community = await community_of_request(deps, request_id)
    if not account.may_act_in(community):
        raise fail(403, "wrong_community", "this staff account is not for that community")
    return community


async def act(
    request: Request,
    acting: Acting,
    request_id: str,
    action: Literal["claim", "refer", "resolve", "cancel", "call_team", "no_show"],
    body: CommandBody,
    detail: str = "",
    community: str | None = None,
) -> CommandAccepted:
    deps: ApiDeps = request.app.state.deps
    if community is None:
        community = await in_scope(deps, acting.account, request_id)
    if isinstance(body, CancelRequest | ResolveRequest | ReferRequest):
        body = seal_closing(keyring(deps.settings), body)  # what staff typed: sealed
    command = new_command(body, community_id=community, issued_at=deps.clock())
    pool = await deps.pool()
    row = audit_rows.StaffAction(
        actor=acting.account.name,
        action=action,
        request_id=request_id,
        community_id=community,
        command_id=command.command_id,
        via=acting.via,
        detail=detail,
    )
    await audit_rows.begin(pool, row)
    await produce(deps, command)
    await audit_rows.queued(pool, command.command_id)
    return CommandAccepted(command_id=command.command_id)


@router.post("/requests/{request_id}/claim", status_code=202, response_model=CommandAccepted)
async def claim(request: Request, request_id: RequestId, acting: ActingStaff) -> CommandAccepted:
    """Take the request on: the dashboard and the request's status name who has it."""
    body = ClaimRequest(request_id=request_id, by=acting.account.name, via=acting.via)
    return await act(request, acting, request_id, "claim", body)


@router.post("/requests/{request_id}/refer", status_code=202, response_model=CommandAccepted)
async def refer(
    request: Request, request_id: RequestId, acting: ActingStaff, body: ReferIn
) -> CommandAccepted:
    """Hand the request on (it ends for neighbours; helpers holding offers are told)."""
    department = body.department.strip()
    command = ReferRequest(request_id=request_id, to=body.to, note=body.note, department=department)
    detail = f"{body.to.value}:{masked(department)}" if department else body.to.value
    return await act(request, acting, request_id, "refer", command, detail)


@router.post("/requests/{request_id}/resolve", status_code=202, response_model=CommandAccepted)
async def resolve(
    request: Request, request_id: RequestId, acting: ActingStaff, body: NoteIn | None = None
) -> CommandAccepted:
    note = body.note if body else ""
    command = ResolveRequest(request_id=request_id, by=Party.STAFF, note=note)
    return await act(request, acting, request_id, "resolve", command)


@router.post("/requests/{request_id}/cancel", status_code=202, response_model=CommandAccepted)
async def cancel(
    request: Request, request_id: RequestId, acting: ActingStaff, body: NoteIn | None = None
) -> CommandAccepted:
    note = body.note if body else ""
    command = CancelRequest(request_id=request_id, by=Party.STAFF, reason=note)
    return await act(request, acting, request_id, "cancel", command)


@router.post("/requests/{request_id}/call-team", status_code=202, response_model=CommandAccepted)
async def call_team(
    request: Request, request_id: RequestId, acting: ActingStaff, body: CallTeamIn
) -> CommandAccepted:
    """Offer the request to a team's leader, who accepts for n members (once per team)."""
    command = CallTeam(request_id=request_id, team_id=body.team_id, by=acting.account.name)
    return await act(request, acting, request_id, "call_team", command, body.team_id)


class AssignedHelperOut(BaseModel):
    helper_id: str
    assigned_at: str
    on_way: bool  # pressed 我在路上 (a remote helper: calling)
    remote: bool


class AssignedHelpersOut(BaseModel):
    request_id: str
    open: bool  # still live: a no-show reopens its slot and the ladder asks again
    # The page's 未到场 buttons: open, or referred to 120/110/119 with kept helpers still
    # holding it (the no-show route takes those too; nobody is asked again there).
    releasable: bool
    helpers: list[AssignedHelperOut]


@router.get("/requests/{request_id}/helpers", response_model=AssignedHelpersOut)
async def assigned_helpers(
    request: Request,
    request_id: RequestId,
    account: Annotated[StaffAccount, Depends(require_staff_ops)],
) -> AssignedHelpersOut:
    """Who holds the request now (the dashboard's 未到场 buttons): helper ids only, never a
    name or phone (the screen may hang on a community office's wall)."""
    deps: ApiDeps = request.app.state.deps
    await in_scope(deps, account, request_id)
    pool = await deps.pool()
    closed, held = await read_assignments.holders(pool, request_id)
    kept = bool(closed and held and await read_dashboard.kept_holders(pool, request_id))
    return AssignedHelpersOut(
        request_id=request_id,
        open=closed is False,
        releasable=closed is False or kept,
        helpers=[
            AssignedHelperOut(
                helper_id=h.helper_id,
                assigned_at=h.assigned_at.isoformat(),
                on_way=h.on_way,
                remote=h.remote,
            )
            for h in held
        ],
    )


async def _still_held(deps: ApiDeps, request_id: str, helper_id: str) -> None:
    """409 unless the read model has `helper_id` holding the request, not done, and the
    request live (or referred to 120/110/119 with its helpers kept: the core takes a
    release there too). A second press, once the first is recorded, is a 409 here; one
    pressed twice at once sends two commands and the core applies the first only."""
    row = await read_assignments.holding(await deps.pool(), request_id, helper_id)
    if row is None:
        raise fail(409, "not_assigned", "this helper does not hold this request")
    if row.released_why is not None:
        why = row.released_why
        raise fail(409, "already_released", f"this helper no longer holds it ({why})")
    if row.done:
        raise fail(409, "already_done", "this helper already marked it done")
    if row.request_closed and row.request_status != "referred":
        raise fail(409, "request_closed", "the request has ended: nobody would be asked again")


@router.post(
    "/requests/{request_id}/helpers/{helper_id}/no-show",
    status_code=202,
    response_model=CommandAccepted,
)
async def no_show(
    request: Request, request_id: RequestId, helper_id: HelperId, acting: ActingStaff
) -> CommandAccepted:
    """Release a helper who accepted and is not coming: the assignment ends as a no-show
    (counted in their `no_show_total`), the slot reopens and the ladder asks again."""
    deps: ApiDeps = request.app.state.deps
    community = await in_scope(deps, acting.account, request_id)
    await _still_held(deps, request_id, helper_id)
    command = WithdrawHelper(request_id=request_id, helper_id=helper_id, no_show=True)
    # The audit row names the helper by id (keyed, never reversible to a phone:
    # helper_ids.py), as the assignment and its events do.
    return await act(request, acting, request_id, "no_show", command, helper_id, community)
