"""The platform login's pieces: the state and session cookies (pure), each platform's
authorize URL (checked against the platforms' own SDKs where installed), and the code →
user id exchanges against local fakes that answer as the platforms document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lark_oapi.api.authen.v1 import GetUserInfoResponseBody
from pydantic import SecretStr, ValidationError
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from dispatcher.api.platform_login import clients, tokens
from dispatcher.api.platform_login.clients import LoginRefused, authorize_url, user_id_for_code
from dispatcher.links import answer_path, offer_token, verify_token
from dispatcher.login_config import PlatformLoginConfig
from dispatcher.secret_policy import production_problems
from dispatcher.settings import Settings
from tests.support import platform_fakes as pf

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
S = Settings(link_secret=SecretStr("k" * 32), login_session_seconds=900)
REDIRECT = "https://help.example.cn/l/login/{kind}/callback"


# ------------------------------------------------------------------ cookies (pure)
def test_state_round_trip_and_expiry() -> None:
    nonce, cookie = tokens.new_state(
        S, kind="wecom", return_path="/l/o/abc", helper_id="h1", now=NOW
    )
    assert nonce.isalnum() and len(nonce) <= 128  # WeCom: state is [a-zA-Z0-9]{,128}
    state = tokens.read_state(S, cookie, NOW)
    assert state is not None and state.nonce == nonce and state.return_path == "/l/o/abc"
    assert tokens.read_state(S, cookie, NOW + tokens.STATE_LIFETIME) is None


@pytest.mark.parametrize("pos", [0, 5, 20, -3, -1])
def test_an_edited_state_or_session_is_refused(pos: int) -> None:
    _, state = tokens.new_state(S, kind="wecom", return_path="/l/o/x", helper_id="h", now=NOW)
    session = tokens.new_session(
        S, kind="wecom", user_id="u", helper_id="h", community_id="c", now=NOW
    )
    for value, read in ((state, tokens.read_state), (session, tokens.read_session)):
        i = pos % len(value)
        edited = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
        assert read(S, edited, NOW) is None  # type: ignore[operator]
        assert read(Settings(link_secret=SecretStr("z" * 32)), value, NOW) is None  # type: ignore[operator]


def test_session_is_short_lived_and_bound_to_one_helper() -> None:
    cookie = tokens.new_session(
        S, kind="wecom", user_id="zhangjg", helper_id="h1", community_id="c1", now=NOW
    )
    assert "zhangjg" not in cookie  # the platform id is kept as a keyed hash only
    session = tokens.read_session(S, cookie, NOW + timedelta(seconds=899))
    assert session is not None
    assert tokens.read_session(S, cookie, NOW + timedelta(seconds=900)) is None
    same = {"kind": "wecom", "platform_user_id": "zhangjg", "helper_id": "h1", "community_id": "c1"}
    assert tokens.session_is_for(S, session, **same)
    for field, other in (
        ("kind", "feishu"),
        ("platform_user_id", "lisi"),
        ("helper_id", "h2"),
        ("community_id", "c2"),
    ):
        assert not tokens.session_is_for(S, session, **(same | {field: other}))


def test_rotation_previous_secret_verifies_sessions() -> None:
    cookie = tokens.new_session(
        S, kind="feishu", user_id="ou_1", helper_id="h", community_id="c", now=NOW
    )
    rotated = Settings(link_secret=SecretStr("n" * 32), link_secrets_previous=[S.link_secret])
    assert tokens.read_session(rotated, cookie, NOW) is not None


def test_answer_page_state_names_its_community() -> None:
    _, cookie = tokens.new_state(
        S, kind="feishu", return_path=answer_path("c-1"), helper_id="", now=NOW, community_id="c-1"
    )
    state = tokens.read_state(S, cookie, NOW)
    assert state is not None and state.community_id == "c-1" and state.helper_id == ""
    assert state.return_path == "/l/me?c=c-1"


def test_account_hashes_are_keyed_per_community_and_survive_rotation() -> None:
    first = tokens.account_hashes(S, "c-1", "zhangjg")
    assert len(first) == 1 and "zhangjg" not in first[0]
    assert first != tokens.account_hashes(S, "c-2", "zhangjg")  # per community
    other_key = Settings(link_secret=SecretStr("m" * 32))
    assert first != tokens.account_hashes(other_key, "c-1", "zhangjg")  # keyed
    rotated = Settings(link_secret=SecretStr("n" * 32), link_secrets_previous=[SecretStr("k" * 32)])
    assert first[0] in tokens.account_hashes(rotated, "c-1", "zhangjg")[1:]


def test_link_claims_carry_the_platform_user_id_sealed() -> None:
    token = offer_token(
        S,
        action="accept",
        request_id="r",
        offer_id="o",
        helper_id="h",
        community_id="c",
        expires_at=NOW + timedelta(minutes=5),
        platform_user_id="zhangjg",
    )
    assert "zhangjg" not in token
    assert verify_token(S, token, NOW).platform_user_id == "zhangjg"


# ------------------------------------------------------------------ settings
def test_one_login_per_community_and_production_checks_the_secret() -> None:
    entry = {"kind": "wecom", "communities": ["c1"], "app_id": "ww1", "app_secret": "CHANGE-ME"}
    with pytest.raises(ValidationError, match="two platform logins"):
        Settings(platform_logins=[entry, entry | {"kind": "feishu"}])
    problems = production_problems(Settings(platform_logins=[entry]))
    assert "DISPATCH_PLATFORM_LOGINS[wecom].app_secret is a placeholder" in problems


# ------------------------------------------------------------------ authorize URLs
def _cfg(kind: str, base: str | None = None) -> PlatformLoginConfig:
    creds = {
        "wecom": (pf.WECOM_CORP_ID, pf.WECOM_SECRET),
        "dingtalk": (pf.DINGTALK_CLIENT_ID, pf.DINGTALK_SECRET),
        "feishu": (pf.FEISHU_APP_ID, pf.FEISHU_SECRET),
    }[kind]
    bases = {"authorize_base": base, "api_base": base, "legacy_api_base": base} if base else {}
    return PlatformLoginConfig(
        kind=kind,  # type: ignore[arg-type]
        communities=frozenset({"c1"}),
        app_id=creds[0],
        app_secret=SecretStr(creds[1]),
        **bases,
    )


def test_wecom_authorize_url_matches_wechatpy() -> None:
    redirect = REDIRECT.format(kind="wecom")
    ours = urlsplit(authorize_url(_cfg("wecom"), redirect_uri=redirect, state="abc123"))
    sdk = urlsplit(
        WeChatClient(pf.WECOM_CORP_ID, pf.WECOM_SECRET).oauth.authorize_url(redirect, "abc123")
    )
    assert (ours.scheme, ours.netloc, ours.path) == (sdk.scheme, sdk.netloc, sdk.path)
    assert parse_qs(ours.query) == parse_qs(sdk.query)
    assert ours.fragment == sdk.fragment == "wechat_redirect"


def test_dingtalk_and_feishu_authorize_urls() -> None:
    d = urlsplit(authorize_url(_cfg("dingtalk"), redirect_uri="https://x/cb", state="s1"))
    assert (d.netloc, d.path) == ("login.dingtalk.com", "/oauth2/auth")
    assert parse_qs(d.query) == {
        "redirect_uri": ["https://x/cb"],
        "response_type": ["code"],
        "client_id": [pf.DINGTALK_CLIENT_ID],
        "scope": ["openid"],
        "state": ["s1"],
        "prompt": ["consent"],
    }
    f = urlsplit(authorize_url(_cfg("feishu"), redirect_uri="https://x/cb", state="s2"))
    assert (f.netloc, f.path) == ("accounts.feishu.cn", "/open-apis/authen/v1/authorize")
    assert parse_qs(f.query) == {
        "client_id": [pf.FEISHU_APP_ID],
        "redirect_uri": ["https://x/cb"],
        "state": ["s2"],
    }


# ------------------------------------------------------------------ exchanges vs fakes
@pytest.fixture
def fake() -> Iterator[pf.FakePlatforms]:
    with pf.FakePlatforms() as f:
        yield f


async def _code(cfg: PlatformLoginConfig, user: str, redirect: str) -> str:
    """What the in-app browser does: open the authorize URL as `user`, follow it back."""
    async with httpx.AsyncClient() as browser:
        r = await browser.get(
            authorize_url(cfg, redirect_uri=redirect, state="st8"),
            headers={pf.APP_USER_HEADER: user},
        )
    assert r.status_code == 302, r.text
    back = urlsplit(r.headers["location"])
    q = parse_qs(back.query)
    assert back.path.endswith(f"/l/login/{cfg.kind}/callback") and q["state"] == ["st8"]
    return (q.get("authCode") or q["code"])[0]


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
async def test_code_gives_the_user_once(fake: pf.FakePlatforms, kind: str) -> None:
    cfg, redirect = _cfg(kind, fake.base_url), REDIRECT.format(kind=kind)
    code = await _code(cfg, "zhangjg", redirect)
    assert await user_id_for_code(cfg, code=code, redirect_uri=redirect) == "zhangjg"
    with pytest.raises(LoginRefused) as replay:
        await user_id_for_code(cfg, code=code, redirect_uri=redirect)
    assert replay.value.reason == "code_refused"
    with pytest.raises(LoginRefused) as forged:
        await user_id_for_code(cfg, code="0" * 32, redirect_uri=redirect)
    assert forged.value.reason == "code_refused"


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
async def test_a_user_outside_the_corp_is_not_a_member(fake: pf.FakePlatforms, kind: str) -> None:
    cfg, redirect = _cfg(kind, fake.base_url), REDIRECT.format(kind=kind)
    fake.state.outsiders.add("visitor")
    code = await _code(cfg, "visitor", redirect)
    with pytest.raises(LoginRefused) as refused:
        await user_id_for_code(cfg, code=code, redirect_uri=redirect)
    assert refused.value.reason == "not_a_member"


async def test_wrong_app_secret_is_an_operator_problem(fake: pf.FakePlatforms) -> None:
    cfg = _cfg("wecom", fake.base_url).model_copy(update={"app_secret": SecretStr("wrong")})
    clients._TOKENS.clear()
    with pytest.raises(LoginRefused) as refused:
        await user_id_for_code(cfg, code="c" * 32, redirect_uri=REDIRECT.format(kind="wecom"))
    assert refused.value.reason == "platform_credentials"


async def test_a_stale_wecom_token_is_fetched_again(fake: pf.FakePlatforms) -> None:
    cfg, redirect = _cfg("wecom", fake.base_url), REDIRECT.format(kind="wecom")
    code = await _code(cfg, "zhangjg", redirect)
    await user_id_for_code(cfg, code=code, redirect_uri=redirect)
    fake.state.app_tokens.clear()  # the platform expired every token early
    code = await _code(cfg, "zhangjg", redirect)
    assert await user_id_for_code(cfg, code=code, redirect_uri=redirect) == "zhangjg"
    assert len(fake.requests_to("/cgi-bin/gettoken")) == 2


async def test_feishu_code_for_another_redirect_uri_is_refused(fake: pf.FakePlatforms) -> None:
    cfg = _cfg("feishu", fake.base_url)
    code = await _code(cfg, "ou_1", REDIRECT.format(kind="feishu"))
    with pytest.raises(LoginRefused):
        await user_id_for_code(
            cfg, code=code, redirect_uri="https://evil.example/l/login/feishu/callback"
        )


async def test_fake_answers_parse_with_the_platform_sdks(fake: pf.FakePlatforms) -> None:
    """The fakes' shapes, read by the platforms' own SDK models (lark-oapi; wechatpy's
    client against the fake's gettoken/getuserinfo)."""
    cfg, redirect = _cfg("feishu", fake.base_url), REDIRECT.format(kind="feishu")
    code = await _code(cfg, "ou_abc", redirect)
    async with httpx.AsyncClient() as http:
        token = (
            await http.post(
                f"{fake.base_url}/open-apis/authen/v2/oauth/token",
                json={
                    "grant_type": "authorization_code",
                    "client_id": pf.FEISHU_APP_ID,
                    "client_secret": pf.FEISHU_SECRET,
                    "code": code,
                    "redirect_uri": redirect,
                },
            )
        ).json()
        info = (
            await http.get(
                f"{fake.base_url}/open-apis/authen/v1/user_info",
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
        ).json()
    assert token["token_type"] == "Bearer" and token["code"] == 0
    assert GetUserInfoResponseBody(info["data"]).open_id == "ou_abc"

    wecom = _cfg("wecom", fake.base_url)
    code = await _code(wecom, "zhangjg", REDIRECT.format(kind="wecom"))
    sdk = WeChatClient(pf.WECOM_CORP_ID, pf.WECOM_SECRET, access_token=_wecom_token(fake))
    sdk.API_BASE_URL = f"{fake.base_url}/cgi-bin/"
    assert sdk._get("auth/getuserinfo", params={"code": code})["userid"] == "zhangjg"
    with pytest.raises(WeChatClientException) as refused:  # the SDK reads its errcode too
        sdk._get("auth/getuserinfo", params={"code": code})
    assert refused.value.errcode == 40029


def _wecom_token(fake: pf.FakePlatforms) -> str:
    r = httpx.get(
        f"{fake.base_url}/cgi-bin/gettoken",
        params={"corpid": pf.WECOM_CORP_ID, "corpsecret": pf.WECOM_SECRET},
    )
    return str(r.json()["access_token"])
