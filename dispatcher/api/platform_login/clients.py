"""Each platform's OAuth: the page to send the browser to, and the code → user id exchange,
with the requests and answers as the platforms document them.

- WeCom (企业微信 OAuth2, `snsapi_base`, silent inside WeCom):
  `GET open.weixin.qq.com/connect/oauth2/authorize?appid=CORPID&redirect_uri=…
  &response_type=code&scope=snsapi_base&state=…&agentid=…#wechat_redirect` → `?code=&state=`;
  `GET cgi-bin/gettoken?corpid&corpsecret` → `{errcode: 0, access_token, expires_in}`;
  `GET cgi-bin/auth/getuserinfo?access_token&code` → `{errcode: 0, userid}` for a member,
  `{errcode: 0, openid}` for a non-member, `{errcode: 40029, "invalid code"}`.
- DingTalk (login.dingtalk.com OAuth2, silent inside DingTalk):
  `GET login.dingtalk.com/oauth2/auth?redirect_uri&response_type=code&client_id&scope=openid
  &state&prompt=consent` → `?authCode=&state=`;
  `POST api.dingtalk.com/v1.0/oauth2/userAccessToken {clientId, clientSecret, code,
  grantType: "authorization_code"}` → `{accessToken, refreshToken, expireIn, corpId}`;
  `GET v1.0/contact/users/me` (header `x-acs-dingtalk-access-token`) → `{unionId, openId, …}`;
  the roster holds the corp userId: `GET oapi.dingtalk.com/gettoken?appkey&appsecret` and
  `POST topapi/user/getbyunionid?access_token {unionid}` → `{errcode: 0, result: {userid}}`.
- Feishu (OAuth2 authorization code):
  `GET accounts.feishu.cn/open-apis/authen/v1/authorize?client_id&redirect_uri&state` →
  `?code=&state=`; `POST open-apis/authen/v2/oauth/token {grant_type: "authorization_code",
  client_id, client_secret, code, redirect_uri}` → `{code: 0, access_token, token_type:
  "Bearer", expires_in}` (`{code: 20003|20065, error: "invalid_grant"}` for a bad or used
  code); `GET open-apis/authen/v1/user_info` (Bearer) → `{code: 0, data: {open_id, …}}`.

Every refusal is `LoginRefused(reason)`; nothing here logs a code, token or user id.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx

from dispatcher.login_config import PlatformLoginConfig

TIMEOUT_S = 5.0
MAX_CODE_CHARS = 512  # WeCom: "code 最大为512字节"


class LoginRefused(Exception):
    """The platform did not vouch for a user. `reason` is a stable word for pages and tests."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def authorize_url(cfg: PlatformLoginConfig, *, redirect_uri: str, state: str) -> str:
    auth, _, _ = cfg.bases()
    if cfg.kind == "wecom":
        query = {
            "appid": cfg.app_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
        if cfg.agent_id:
            query["agentid"] = cfg.agent_id
        return f"{auth}/connect/oauth2/authorize?{urlencode(query)}#wechat_redirect"
    if cfg.kind == "dingtalk":
        query = {
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "client_id": cfg.app_id,
            "scope": "openid",
            "state": state,
            "prompt": "consent",
        }
        return f"{auth}/oauth2/auth?{urlencode(query)}"
    query = {"client_id": cfg.app_id, "redirect_uri": redirect_uri, "state": state}
    return f"{auth}/open-apis/authen/v1/authorize?{urlencode(query)}"


# App access tokens (WeCom, DingTalk's oapi) are rate-limited by the platforms and live two
# hours: cached per application, refreshed a minute early or when the platform says stale.
_TOKENS: dict[tuple[str, str, str], tuple[str, float]] = {}
_STALE_TOKEN = {40014, 42001, 88, 40001}  # invalid / expired access_token


async def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise LoginRefused("platform_unavailable") from exc
    if not isinstance(data, dict):
        raise LoginRefused("platform_unavailable")
    return data


async def _app_token(cfg: PlatformLoginConfig, http: httpx.AsyncClient, *, fresh: bool) -> str:
    _, api, legacy = cfg.bases()
    key = (cfg.kind, cfg.app_id, api)
    cached = _TOKENS.get(key)
    if cached and not fresh and cached[1] > time.monotonic():
        return cached[0]
    secret = cfg.app_secret.get_secret_value()
    if cfg.kind == "wecom":
        r = await http.get(
            f"{api}/cgi-bin/gettoken", params={"corpid": cfg.app_id, "corpsecret": secret}
        )
    else:
        r = await http.get(f"{legacy}/gettoken", params={"appkey": cfg.app_id, "appsecret": secret})
    data = await _json(r)
    token = data.get("access_token")
    if data.get("errcode") != 0 or not isinstance(token, str) or not token:
        raise LoginRefused("platform_credentials")  # our app's id/secret: an operator's fix
    expires_in = float(data.get("expires_in") or 7200)
    _TOKENS[key] = (token, time.monotonic() + max(0.0, expires_in - 60))
    return token


async def _with_app_token(
    cfg: PlatformLoginConfig, http: httpx.AsyncClient, call: Any
) -> dict[str, Any]:
    """`call(token)` → the platform's JSON; once more with a fresh token if it was stale."""
    data: dict[str, Any] = await call(await _app_token(cfg, http, fresh=False))
    if data.get("errcode") in _STALE_TOKEN:
        data = await call(await _app_token(cfg, http, fresh=True))
    return data


async def _wecom(cfg: PlatformLoginConfig, http: httpx.AsyncClient, code: str) -> str:
    _, api, _ = cfg.bases()

    async def call(token: str) -> dict[str, Any]:
        r = await http.get(
            f"{api}/cgi-bin/auth/getuserinfo", params={"access_token": token, "code": code}
        )
        return await _json(r)

    data = await _with_app_token(cfg, http, call)
    if data.get("errcode") != 0:
        raise LoginRefused("code_refused")
    userid = data.get("userid")
    if not isinstance(userid, str) or not userid:
        raise LoginRefused("not_a_member")  # an openid: someone outside the corp
    return userid


async def _dingtalk(cfg: PlatformLoginConfig, http: httpx.AsyncClient, code: str) -> str:
    _, api, legacy = cfg.bases()
    r = await http.post(
        f"{api}/v1.0/oauth2/userAccessToken",
        json={
            "clientId": cfg.app_id,
            "clientSecret": cfg.app_secret.get_secret_value(),
            "code": code,
            "grantType": "authorization_code",
        },
    )
    data = await _json(r)
    user_token = data.get("accessToken")
    if r.status_code != 200 or not isinstance(user_token, str) or not user_token:
        raise LoginRefused("code_refused")
    me = await http.get(
        f"{api}/v1.0/contact/users/me", headers={"x-acs-dingtalk-access-token": user_token}
    )
    union_id = (await _json(me)).get("unionId")
    if me.status_code != 200 or not isinstance(union_id, str) or not union_id:
        raise LoginRefused("code_refused")

    async def call(token: str) -> dict[str, Any]:
        r = await http.post(
            f"{legacy}/topapi/user/getbyunionid",
            params={"access_token": token},
            json={"unionid": union_id},
        )
        return await _json(r)

    found = await _with_app_token(cfg, http, call)
    result = found.get("result") if found.get("errcode") == 0 else None
    userid = result.get("userid") if isinstance(result, dict) else None
    if not isinstance(userid, str) or not userid:
        raise LoginRefused("not_a_member")  # a DingTalk user, but not in this corp
    return userid


async def _feishu(
    cfg: PlatformLoginConfig, http: httpx.AsyncClient, code: str, redirect_uri: str
) -> str:
    _, api, _ = cfg.bases()
    r = await http.post(
        f"{api}/open-apis/authen/v2/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": cfg.app_id,
            "client_secret": cfg.app_secret.get_secret_value(),
            "code": code,
            "redirect_uri": redirect_uri,
        },
    )
    data = await _json(r)
    user_token = data.get("access_token")
    if data.get("code") != 0 or not isinstance(user_token, str) or not user_token:
        raise LoginRefused("code_refused")
    info = await http.get(
        f"{api}/open-apis/authen/v1/user_info", headers={"Authorization": f"Bearer {user_token}"}
    )
    body = await _json(info)
    user = body.get("data") if body.get("code") == 0 else None
    open_id = user.get("open_id") if isinstance(user, dict) else None
    if not isinstance(open_id, str) or not open_id:
        raise LoginRefused("code_refused")
    return open_id


async def user_id_for_code(cfg: PlatformLoginConfig, *, code: str, redirect_uri: str) -> str:
    """The platform user id the platform vouches for with this one-time code."""
    if not code or len(code) > MAX_CODE_CHARS:
        raise LoginRefused("code_refused")
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http:
            if cfg.kind == "wecom":
                return await _wecom(cfg, http, code)
            if cfg.kind == "dingtalk":
                return await _dingtalk(cfg, http, code)
            return await _feishu(cfg, http, code, redirect_uri)
    except httpx.HTTPError as exc:
        raise LoginRefused("platform_unavailable") from exc
