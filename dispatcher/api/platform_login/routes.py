"""`GET /l/login/{platform}/callback`: where the platform sends the browser back with a
one-time code. Checks, in order: the state cookie is ours and unexpired, the `state`
parameter equals its nonce (CSRF), the code was never presented before (replay; the
platforms also refuse a used code), the platform vouches for a user with it, and that user
is the helper the link was sent to (an offer link), or the one helper the community's
roster lists with that platform account (the answer page, /l/me). Then a short session
cookie bound to that helper, and back to the page. Every attempt that gets as far as a
code is recorded in `platform_logins` (no codes, no user ids: a hash of the code) for the
community's audit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatcher.api.deps import ApiDeps
from dispatcher.api.pages import link_error
from dispatcher.api.platform_login import accounts, gate, tokens
from dispatcher.api.platform_login.clients import LoginRefused, user_id_for_code
from dispatcher.links import OFFER_PATH, LinkError, answer_path, verify_token
from dispatcher.login_config import LoginKind, PlatformLoginConfig
from dispatcher.record.edge import platform_logins

router = APIRouter(prefix=gate.LOGIN_PATH, tags=["volunteer links"])
HTML: dict[int | str, dict[str, Any]] = {
    303: {"description": "Logged in: back to the offer link"},
    403: {"content": {"text/html": {}}, "description": "Refused; header X-Refusal-Reason"},
}


async def _record(deps: ApiDeps, kind: str, code_hash: str, helper_id: str, outcome: str) -> bool:
    """Record the attempt; False when this code was presented before."""
    return await platform_logins.claim(
        await deps.pool(), kind, code_hash, helper_id or None, outcome
    )


async def _settle(
    deps: ApiDeps, code_hash: str, outcome: str, helper_id: str | None = None
) -> None:
    await platform_logins.settle(await deps.pool(), code_hash, outcome, helper_id)


@router.get("/{kind}/callback", response_class=HTMLResponse, responses=HTML)
async def login_callback(request: Request, kind: LoginKind) -> Response:
    deps: ApiDeps = request.app.state.deps
    host = request.client.host if request.client else "?"
    # Codes are the platforms' random one-time values: guessing is hopeless, but each try
    # costs a platform API call. Generous per address (carrier NAT puts many phones behind
    # one), tight per login under way.
    deps.limiter.check(("platform-login", host), 120, 60, "client")
    now = deps.clock()
    q = request.query_params
    state = tokens.read_state(deps.settings, request.cookies.get(tokens.STATE_COOKIE), now)
    if state is None or state.kind != kind:  # not recorded: anyone can send this
        return gate.refused("state_missing", kind)
    deps.limiter.check(("platform-login-state", state.nonce), 5, 5, "login")
    if not tokens.constant_time_equal(q.get("state", ""), state.nonce):
        return gate.refused("state_mismatch", kind)
    target = _target(deps, state, now)
    if isinstance(target, Response):
        return target
    if target.login.kind != kind:
        return gate.refused("state_mismatch", kind)
    # DingTalk's redirect names it authCode; WeCom and Feishu call it code.
    code = q.get("authCode") or q.get("code") or ""
    code_hash = hashlib.sha256(f"{kind}:{code}".encode()).hexdigest()
    if not code or not await _record(deps, kind, code_hash, target.helper_id, "pending"):
        return gate.refused("code_replayed" if code else "code_refused", kind)
    try:
        user_id = await user_id_for_code(
            target.login, code=code, redirect_uri=gate.callback_uri(deps, kind)
        )
    except LoginRefused as refusal:
        await _settle(deps, code_hash, refusal.reason)
        return gate.refused(refusal.reason, kind)
    helper_id = await _whose(deps, target, user_id)
    if helper_id is None:
        # A forwarded offer link opened by another member of the group, or a platform
        # user the community's roster does not list (the answer page).
        reason = "not_the_helper" if target.helper_id else "not_a_member"
        await _settle(deps, code_hash, reason)
        return gate.refused(reason, kind)
    await _settle(deps, code_hash, "ok", helper_id)
    answer = RedirectResponse(state.return_path, status_code=303, headers=gate.REDIRECT_HEADERS)
    session = tokens.new_session(
        deps.settings,
        kind=kind,
        user_id=user_id,
        helper_id=helper_id,
        community_id=target.community_id,
        now=now,
    )
    gate.set_cookie(
        request,
        answer,
        tokens.SESSION_COOKIE,
        session,
        max_age=deps.settings.login_session_seconds,
    )
    answer.delete_cookie(tokens.STATE_COOKIE, path="/l/")  # one state, one login
    return answer


@dataclass(frozen=True)
class Target:
    """What a login is for: an offer link (its helper and the platform user it names), or
    the answer page of a community (the roster says which helper the user is)."""

    login: PlatformLoginConfig
    community_id: str
    helper_id: str = ""
    platform_user_id: str = ""


def _target(deps: ApiDeps, state: tokens.LoginState, now: datetime) -> Target | Response:
    if state.return_path.startswith(OFFER_PATH):  # still ours, unexpired, naming a user
        try:
            claims = verify_token(deps.settings, state.return_path.removeprefix(OFFER_PATH), now)
        except LinkError as exc:
            return link_error(exc.reason)
        login = gate.needed(deps, claims)
        if login is None or claims.platform_user_id is None:
            return gate.refused("state_mismatch", state.kind)
        return Target(login, claims.community_id, claims.helper_id, claims.platform_user_id)
    community = state.community_id
    login = deps.settings.platform_login_for(community) if community else None
    if login is None or state.return_path != answer_path(community):
        return gate.refused("state_mismatch", state.kind)
    return Target(login, community)


async def _whose(deps: ApiDeps, target: Target, user_id: str) -> str | None:
    """The helper this platform user is, for this login; None when nobody (or not one)."""
    if target.helper_id:
        same = tokens.constant_time_equal(user_id, target.platform_user_id)
        return target.helper_id if same else None
    found = await accounts.helpers_for(
        await deps.pool(), deps.settings, target.community_id, user_id
    )
    return found[0] if len(found) == 1 else None  # two helpers with one account: ask staff
