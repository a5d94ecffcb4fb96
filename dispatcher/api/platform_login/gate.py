"""What an offer page does with a link whose helper must log in through their platform.

`needed` says whether a link needs it (the claims name a platform user id and the
community has a login configured); `identify` says who the browser is: the helper (their
platform session, or the phone their private personal link is bound to now:
`offer_binding.bound_phone`, as on `/l/me`), someone else logged in, or nobody yet. A GET
by anyone but the helper is sent to the platform (`start`), whose answer at the callback
decides (403 `not_the_helper` for another user); a POST is refused: 401 without a login,
403 with someone else's.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatcher.api.auth import behind_tls
from dispatcher.api.deps import ApiDeps
from dispatcher.api.offer_binding import bound_phone
from dispatcher.api.pages import REASON_HEADER, e, page
from dispatcher.api.platform_login import tokens
from dispatcher.api.platform_login.clients import authorize_url
from dispatcher.links import LinkClaims
from dispatcher.login_config import PlatformLoginConfig

LOGIN_PATH = "/l/login"
Verdict = Literal["helper", "someone_else", "nobody"]
# The link's token is in our URLs: no caching, and no Referer to the platform or back.
REDIRECT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PLATFORM_ZH = {"wecom": "企业微信", "dingtalk": "钉钉", "feishu": "飞书"}


def needed(deps: ApiDeps, claims: LinkClaims) -> PlatformLoginConfig | None:
    if not claims.platform_user_id:
        return None  # no 平台账号 on the roster: the signed link (and bound phone) as before
    return deps.settings.platform_login_for(claims.community_id)


async def identify(
    request: Request, deps: ApiDeps, claims: LinkClaims, login: PlatformLoginConfig
) -> Verdict:
    now = deps.clock()
    session = tokens.read_session(deps.settings, request.cookies.get(tokens.SESSION_COOKIE), now)
    assert claims.platform_user_id is not None
    if session is not None and tokens.session_is_for(
        deps.settings,
        session,
        kind=login.kind,
        platform_user_id=claims.platform_user_id,
        helper_id=claims.helper_id,
        community_id=claims.community_id,
    ):
        return "helper"
    # The phone's cookie alone (180 days) is not the helper: only beside the binding's
    # cookie of their personal link, where it is bound now (a phone it moved from, or a
    # copied cookie, is nobody).
    if await bound_phone(request, deps) == (claims.helper_id, claims.community_id):
        return "helper"
    return "someone_else" if session is not None else "nobody"


async def check(
    request: Request, deps: ApiDeps, claims: LinkClaims, *, acting: bool
) -> tuple[PlatformLoginConfig | None, Response | None]:
    """(the login this link needs, or None; the answer instead of the page, or None to go
    on as the helper)."""
    login = needed(deps, claims)
    if login is None:
        return None, None
    verdict = await identify(request, deps, claims, login)
    if verdict == "helper":
        return login, None
    if acting:
        if verdict == "someone_else":
            return login, refused("not_the_helper", login.kind)
        return login, login_first(request.url.path, login)
    # Opening the link with another helper's session (or none) logs in again: the same
    # person may be on two rosters; the platform's answer at the callback decides.
    return login, start(
        request, deps, login, return_path=request.url.path, helper_id=claims.helper_id
    )


def callback_uri(deps: ApiDeps, kind: str) -> str:
    return f"{deps.settings.public_base_url.rstrip('/')}{LOGIN_PATH}/{kind}/callback"


def start(
    request: Request,
    deps: ApiDeps,
    login: PlatformLoginConfig,
    *,
    return_path: str,
    helper_id: str = "",
    community_id: str = "",
) -> Response:
    """Send the browser to the platform's login; the state cookie remembers where from (an
    offer link and its helper, or the answer page and its community)."""
    nonce, cookie = tokens.new_state(
        deps.settings,
        kind=login.kind,
        return_path=return_path,
        helper_id=helper_id,
        now=deps.clock(),
        community_id=community_id,
    )
    target = authorize_url(login, redirect_uri=callback_uri(deps, login.kind), state=nonce)
    answer = RedirectResponse(target, status_code=302, headers=REDIRECT_HEADERS)
    set_cookie(
        request,
        answer,
        tokens.STATE_COOKIE,
        cookie,
        max_age=int(tokens.STATE_LIFETIME.total_seconds()),
    )
    return answer


def set_cookie(request: Request, answer: Response, name: str, value: str, *, max_age: int) -> None:
    # Lax, not Strict: the platform's redirect back is a cross-site top-level GET, and a
    # Strict cookie would not come with it. Acting is a POST, which Lax never sends
    # cross-site.
    answer.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/l/",
        httponly=True,
        samesite="lax",
        secure=behind_tls(request),
    )


def refused(reason: str, platform: str | None = None) -> HTMLResponse:
    """403 for a browser that is not the helper the link was sent to, with the reason."""
    where = PLATFORM_ZH.get(platform or "", "聊天软件")
    texts = {
        "not_the_helper": (
            f"这条邀请是发给另一位邻居的。当前{where}账号不能替他回复或查看联系方式。"
        ),
        "state_missing": "登录已过期或不是从这部手机发起的，请回到原消息重新打开链接。",
        "state_mismatch": "登录校验未通过，请回到原消息重新打开链接。",
        "code_replayed": "这个登录凭证已经用过，请回到原消息重新打开链接。",
        "code_refused": f"{where}没有确认您的身份，请回到原消息重新打开链接。",
        "not_a_member": f"您的{where}账号不在社区名册中，请联系社区工作人员。",
        "platform_credentials": "登录暂时不可用，请联系社区工作人员。",
        "platform_unavailable": f"暂时无法连接{where}，请稍后再试。",
    }
    body = (
        f'<p>{e(texts.get(reason, "无法确认您的身份。"))}</p><p class="note">原因：{e(reason)}</p>'
    )
    answer = page("无法确认身份", body, tone="bad", status_code=403)
    answer.headers[REASON_HEADER] = reason
    return answer


def login_first(path: str, login: PlatformLoginConfig) -> HTMLResponse:
    """A POST without a login (the session ran out, or the form was replayed elsewhere)."""
    where = PLATFORM_ZH[login.kind]
    body = f'<p>请在{e(where)}中<a href="{e(path)}">重新打开这条邀请</a>，确认身份后再回复。</p>'
    answer = page("请先确认身份", body, tone="warn", status_code=401)
    answer.headers[REASON_HEADER] = "login_required"
    return answer
