"""Local fakes of the three chat platforms' in-app login endpoints, on one real HTTP server.

Each endpoint follows its platform's documented request and answer shapes (see
`dispatcher/api/platform_login/clients.py` for the list): the authorize page redirects back
with a one-time code (5 minutes, single use, bound to the app and the redirect URI); the
token and user endpoints check the app's credentials and answer with the platforms' own
error codes (WeCom 40029 invalid code, Feishu 20003/20065, DingTalk HTTP 400).

Who is logged in inside the app is what a real platform knows from its own session: here
the "in-app browser" says it with the `X-Fake-App-User` header on the authorize request.
A threaded server, so the API subprocess and in-process clients can both reach it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

APP_USER_HEADER = "X-Fake-App-User"
CODE_LIFETIME_S = 300.0

WECOM_CORP_ID = "ww0fakecorp000001"
WECOM_SECRET = "fake-wecom-app-secret-0123456789abcdef"
WECOM_AGENT_ID = "1000002"
DINGTALK_CLIENT_ID = "dingfakeclient0001"
DINGTALK_SECRET = "fake-dingtalk-client-secret-0123456789abcdef"
DINGTALK_CORP_ID = "dingfakecorp0001"
FEISHU_APP_ID = "cli_fake0000000001"
FEISHU_SECRET = "fake-feishu-app-secret-0123456789abcdef"


@dataclass
class Code:
    platform: str
    user: str
    redirect_uri: str
    issued: float
    used: bool = False


@dataclass
class FakeState:
    codes: dict[str, Code] = field(default_factory=dict)
    app_tokens: set[str] = field(default_factory=set)  # WeCom / DingTalk oapi
    user_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token → (kind, user)
    outsiders: set[str] = field(default_factory=set)  # logged in, but not in the corp
    requests: list[tuple[str, str, dict[str, list[str]], dict[str, str], bytes]] = field(
        default_factory=list
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, platform: str, user: str, redirect_uri: str) -> str:
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = Code(platform, user, redirect_uri, time.monotonic())
        return code

    def redeem(self, platform: str, code: str, redirect_uri: str | None = None) -> str | None:
        """The user a good code stands for (and it is used up), or None."""
        with self.lock:
            c = self.codes.get(code)
            if c is None or c.platform != platform or c.used:
                return None
            if time.monotonic() - c.issued > CODE_LIFETIME_S:
                return None
            if redirect_uri is not None and redirect_uri != c.redirect_uri:
                return None
            c.used = True
            return c.user

    def was_used(self, code: str) -> bool:
        with self.lock:
            c = self.codes.get(code)
            return c is not None and c.used

    def new_token(self) -> str:
        token = secrets.token_hex(16)
        with self.lock:
            self.app_tokens.add(token)
        return token


def union_id(user: str) -> str:
    return f"union-{user}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing -------------------------------------------------------------------------
    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _redirect(self, target: str, query: dict[str, str]) -> None:
        sep = "&" if "?" in target else "?"
        self.send_response(302)
        self.send_header("Location", target + sep + urlencode(query))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _read(self) -> tuple[str, dict[str, list[str]], bytes]:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(parts.query)
        state = self.server.state
        with state.lock:
            state.requests.append(
                (
                    self.command,
                    parts.path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
        return parts.path, query, body

    def do_GET(self) -> None:
        path, q, _ = self._read()
        one = {k: v[0] for k, v in q.items()}
        route = {
            "/connect/oauth2/authorize": self._wecom_authorize,
            "/cgi-bin/gettoken": self._wecom_gettoken,
            "/cgi-bin/auth/getuserinfo": self._wecom_getuserinfo,
            "/oauth2/auth": self._dingtalk_authorize,
            "/v1.0/contact/users/me": self._dingtalk_me,
            "/gettoken": self._dingtalk_gettoken,
            "/open-apis/authen/v1/authorize": self._feishu_authorize,
            "/open-apis/authen/v1/user_info": self._feishu_user_info,
        }.get(path)
        if route is None:
            self._answer(404, {"errcode": 404, "errmsg": "no such path"})
            return
        route(one)

    def do_POST(self) -> None:
        path, q, body = self._read()
        one = {k: v[0] for k, v in q.items()}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        route = {
            "/v1.0/oauth2/userAccessToken": self._dingtalk_user_token,
            "/topapi/user/getbyunionid": self._dingtalk_getbyunionid,
            "/open-apis/authen/v2/oauth/token": self._feishu_token,
        }.get(path)
        if route is None:
            self._answer(404, {"errcode": 404, "errmsg": "no such path"})
            return
        route(one, data)

    def _app_user(self) -> str | None:
        return self.headers.get(APP_USER_HEADER)

    # -- WeCom ----------------------------------------------------------------------------
    def _wecom_authorize(self, q: dict[str, str]) -> None:
        user = self._app_user()
        if (
            user is None
            or q.get("appid") != WECOM_CORP_ID
            or q.get("response_type") != "code"
            or q.get("scope") != "snsapi_base"
            or not q.get("redirect_uri")
        ):
            self._answer(400, {"errcode": 40029, "errmsg": "请在企业微信客户端打开链接"})
            return
        code = self.server.state.issue("wecom", user, q["redirect_uri"])
        self._redirect(q["redirect_uri"], {"code": code, "state": q.get("state", "")})

    def _wecom_gettoken(self, q: dict[str, str]) -> None:
        if q.get("corpid") != WECOM_CORP_ID:
            self._answer(200, {"errcode": 40013, "errmsg": "invalid corpid"})
        elif q.get("corpsecret") != WECOM_SECRET:
            self._answer(200, {"errcode": 40001, "errmsg": "invalid credential"})
        else:
            token = self.server.state.new_token()
            self._answer(
                200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
            )

    def _wecom_getuserinfo(self, q: dict[str, str]) -> None:
        state = self.server.state
        if q.get("access_token") not in state.app_tokens:
            self._answer(200, {"errcode": 40014, "errmsg": "invalid access_token"})
            return
        user = state.redeem("wecom", q.get("code", ""))
        if user is None:
            self._answer(200, {"errcode": 40029, "errmsg": "invalid code"})
        elif user in state.outsiders:
            self._answer(200, {"errcode": 0, "errmsg": "ok", "openid": f"o-{user}"})
        else:
            self._answer(200, {"errcode": 0, "errmsg": "ok", "userid": user})

    # -- DingTalk -------------------------------------------------------------------------
    def _dingtalk_authorize(self, q: dict[str, str]) -> None:
        user = self._app_user()
        if (
            user is None
            or q.get("client_id") != DINGTALK_CLIENT_ID
            or q.get("response_type") != "code"
            or "openid" not in q.get("scope", "").split()
            or not q.get("redirect_uri")
        ):
            self._redirect(q.get("redirect_uri", "/"), {"error": "invalid_request"})
            return
        code = self.server.state.issue("dingtalk", user, q["redirect_uri"])
        self._redirect(q["redirect_uri"], {"authCode": code, "state": q.get("state", "")})

    def _dingtalk_user_token(self, _q: dict[str, str], body: dict[str, Any]) -> None:
        if (
            body.get("clientId") != DINGTALK_CLIENT_ID
            or body.get("clientSecret") != DINGTALK_SECRET
        ):
            self._answer(
                400,
                {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret"},
            )
            return
        if body.get("grantType") != "authorization_code":
            self._answer(400, {"code": "invalidParameter", "message": "grantType"})
            return
        user = self.server.state.redeem("dingtalk", str(body.get("code", "")))
        if user is None:
            self._answer(400, {"code": "invalidAuthCode", "message": "不合法的临时授权码"})
            return
        token = secrets.token_hex(16)
        with self.server.state.lock:
            self.server.state.user_tokens[token] = ("dingtalk", user)
        self._answer(
            200,
            {
                "accessToken": token,
                "refreshToken": secrets.token_hex(16),
                "expireIn": 7200,
                "corpId": DINGTALK_CORP_ID,
            },
        )

    def _dingtalk_me(self, _q: dict[str, str]) -> None:
        token = self.headers.get("x-acs-dingtalk-access-token", "")
        owner = self.server.state.user_tokens.get(token)
        if owner is None or owner[0] != "dingtalk":
            self._answer(401, {"code": "InvalidAuthentication", "message": "不合法的access_token"})
            return
        user = owner[1]
        self._answer(
            200,
            {
                "nick": user,
                "avatarUrl": "",
                "openId": f"open-{user}",
                "unionId": union_id(user),
                "stateCode": "86",
            },
        )

    def _dingtalk_gettoken(self, q: dict[str, str]) -> None:
        if q.get("appkey") != DINGTALK_CLIENT_ID or q.get("appsecret") != DINGTALK_SECRET:
            self._answer(200, {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
            return
        token = self.server.state.new_token()
        self._answer(200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    def _dingtalk_getbyunionid(self, q: dict[str, str], body: dict[str, Any]) -> None:
        state = self.server.state
        if q.get("access_token") not in state.app_tokens:
            self._answer(200, {"errcode": 88, "errmsg": "不合法的access_token"})
            return
        union = str(body.get("unionid", ""))
        user = union.removeprefix("union-") if union.startswith("union-") else None
        if user is None or user in state.outsiders:
            self._answer(200, {"errcode": 60121, "errmsg": "找不到该用户"})
            return
        self._answer(
            200,
            {
                "errcode": 0,
                "errmsg": "ok",
                "result": {"contact_type": 0, "userid": user},
                "request_id": secrets.token_hex(8),
            },
        )

    # -- Feishu ---------------------------------------------------------------------------
    def _feishu_authorize(self, q: dict[str, str]) -> None:
        user = self._app_user()
        if user is None or q.get("client_id") != FEISHU_APP_ID or not q.get("redirect_uri"):
            self._answer(400, {"code": 20001, "error": "invalid_request"})
            return
        code = self.server.state.issue("feishu", user, q["redirect_uri"])
        self._redirect(q["redirect_uri"], {"code": code, "state": q.get("state", "")})

    def _feishu_token(self, _q: dict[str, str], body: dict[str, Any]) -> None:
        if body.get("grant_type") != "authorization_code":
            self._answer(400, {"code": 20036, "error": "unsupported_grant_type"})
            return
        if body.get("client_id") != FEISHU_APP_ID or body.get("client_secret") != FEISHU_SECRET:
            self._answer(400, {"code": 20002, "error": "invalid_client"})
            return
        code = str(body.get("code", ""))
        if self.server.state.was_used(code):
            self._answer(
                400, {"code": 20065, "error": "invalid_grant", "error_description": "used"}
            )
            return
        user = self.server.state.redeem("feishu", code, str(body.get("redirect_uri", "")))
        if user is None:
            self._answer(
                400, {"code": 20003, "error": "invalid_grant", "error_description": "not found"}
            )
            return
        token = secrets.token_hex(24)
        with self.server.state.lock:
            self.server.state.user_tokens[token] = ("feishu", user)
        self._answer(
            200,
            {
                "code": 0,
                "access_token": token,
                "expires_in": 7200,
                "token_type": "Bearer",
                "scope": "",
            },
        )

    def _feishu_user_info(self, _q: dict[str, str]) -> None:
        auth = self.headers.get("Authorization", "")
        owner = self.server.state.user_tokens.get(auth.removeprefix("Bearer "))
        if not auth.startswith("Bearer ") or owner is None or owner[0] != "feishu":
            self._answer(401, {"code": 99991668, "msg": "Invalid access token for authorization"})
            return
        user = owner[1]
        self._answer(
            200,
            {
                "code": 0,
                "msg": "success",
                "data": {
                    "name": user,
                    "en_name": user,
                    "avatar_url": "",
                    "open_id": user,
                    "union_id": f"on_{user}",
                    "tenant_key": "fake-tenant",
                },
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakePlatforms:
    """`with FakePlatforms() as fake:` serves all three platforms on `fake.base_url`."""

    def __init__(self) -> None:
        self.state = FakeState()
        self._server = _Server(self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakePlatforms:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_to(
        self, path: str
    ) -> list[tuple[str, str, dict[str, list[str]], dict[str, str], bytes]]:
        with self.state.lock:
            return [r for r in self.state.requests if r[1] == path]

    def logins(self, communities: dict[str, list[str]]) -> list[dict[str, Any]]:
        """`DISPATCH_PLATFORM_LOGINS` for these {kind: communities}, aimed at this fake."""
        creds = {
            "wecom": (WECOM_CORP_ID, WECOM_SECRET, WECOM_AGENT_ID),
            "dingtalk": (DINGTALK_CLIENT_ID, DINGTALK_SECRET, None),
            "feishu": (FEISHU_APP_ID, FEISHU_SECRET, None),
        }
        out = []
        for kind, comms in communities.items():
            app_id, secret, agent = creds[kind]
            entry: dict[str, Any] = {
                "kind": kind,
                "communities": comms,
                "app_id": app_id,
                "app_secret": secret,
                "authorize_base": self.base_url,
                "api_base": self.base_url,
                "legacy_api_base": self.base_url,
            }
            if agent:
                entry["agent_id"] = agent
            out.append(entry)
        return out
