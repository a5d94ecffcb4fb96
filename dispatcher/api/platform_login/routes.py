"""`GET /l/login/{platform}/callback`: where the platform sends the browser back with a
one-time code. Checks, in order: the state cookie is ours and unexpired, the `state`
parameter equals its nonce (CSRF), the code was never presented before (replay; the
platforms also refuse a used code), the platform vouches for a user with it, and that user
is the helper the link was sent to. Then a short session cookie bound to that helper, and
back to the link. Every attempt that gets as far as a code is recorded in `platform_logins`
(no codes, no user ids: a hash of the code) for the community's audit.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatcher.api.deps import ApiDeps
from dispatcher.api.pages import link_error
from dispatcher.api.platform_login import gate, tokens
from dispatcher.api.platform_login.clients import LoginRefused, user_id_for_code
from dispatcher.links import OFFER_PATH, LinkError, verify_token
from dispatcher.login_config import LoginKind
from dispatcher.record.edge import platform_logins

router = APIRouter(prefix=gate.LOGIN_PATH, tags=["volunteer links"])
HTML: dict[int | str, dict[str, Any]] = {
    303: {"description": "Logged in: back to the offer link"},
    403: {"content": {"text/html": {}}, "description": "Refused; header X-Refusal-Reason"},
}


async def _record(deps: ApiDeps, kind: str, code_hash: str, helper_id: str, outcome: str) -> bool:
    """Record the attempt; False when this code was presented before."""
    return await platform_logins.claim(await deps.pool(), kind, code_hash, helper_id, outcome)


async def _settle(deps: ApiDeps, code_hash: str, outcome: str) -> None:
    await platform_logins.settle(await deps.pool(), code_hash, outcome)


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
    # The link the login is for: still ours, unexpired, and naming a platform user.
    if not state.return_path.startswith(OFFER_PATH):
        return gate.refused("state_mismatch", kind)
    try:
        claims = verify_token(deps.settings, state.return_path.removeprefix(OFFER_PATH), now)
    except LinkError as exc:
        return link_error(exc.reason)
    login = gate.needed(deps, claims)
    if login is None or login.kind != kind or claims.platform_user_id is None:
        return gate.refused("state_mismatch", kind)
    # DingTalk's redirect names it authCode; WeCom and Feishu call it code.
    code = q.get("authCode") or q.get("code") or ""
    code_hash = hashlib.sha256(f"{kind}:{code}".encode()).hexdigest()
    if not code or not await _record(deps, kind, code_hash, claims.helper_id, "pending"):
        return gate.refused("code_replayed" if code else "code_refused", kind)
    try:
        user_id = await user_id_for_code(
            login, code=code, redirect_uri=gate.callback_uri(deps, kind)
        )
    except LoginRefused as refusal:
        await _settle(deps, code_hash, refusal.reason)
        return gate.refused(refusal.reason, kind)
    if not tokens.constant_time_equal(user_id, claims.platform_user_id):
        # A forwarded link, opened by another member of the group.
        await _settle(deps, code_hash, "not_the_helper")
        return gate.refused("not_the_helper", kind)
    await _settle(deps, code_hash, "ok")
    answer = RedirectResponse(state.return_path, status_code=303, headers=gate.REDIRECT_HEADERS)
    session = tokens.new_session(
        deps.settings,
        kind=kind,
        user_id=user_id,
        helper_id=claims.helper_id,
        community_id=claims.community_id,
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
