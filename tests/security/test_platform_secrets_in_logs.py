"""A platform app's secret never reaches the log.

WeCom's and DingTalk's token endpoints take the app secret in the query string
(`gettoken?corpid&corpsecret`, `gettoken?appkey&appsecret`), and httpx logs every request's
URL at INFO. The attack: read the API's log after a helper's platform login made the API
fetch its app token; with the log configured as the API configures it, and with httpx's
request lines let through at INFO (the redaction is the second line of defence).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.platform_login import clients
from dispatcher.api.platform_login.clients import authorize_url, user_id_for_code
from dispatcher.login_config import PlatformLoginConfig
from dispatcher.logs import configure_logging
from dispatcher.push.http import make_client
from dispatcher.settings import Settings
from tests.support import platform_fakes as pf

APPS = {
    "wecom": (pf.WECOM_CORP_ID, pf.WECOM_SECRET),
    "dingtalk": (pf.DINGTALK_CLIENT_ID, pf.DINGTALK_SECRET),
}


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """The root logger as `python -m dispatcher api` configures it (INFO), into a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(Settings())
    make_client()  # as create_app: installs the push client's redacting filter on httpx
    buffer = io.StringIO()
    root.handlers[0].stream = buffer  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:], level = saved
    root.setLevel(level)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def login_once(fake: pf.FakePlatforms, kind: str) -> str:
    """A helper's login through the platform's OAuth, the app token fetched afresh;
    returns the one-time code the callback was given."""
    app_id, secret = APPS[kind]
    cfg = PlatformLoginConfig(
        kind=kind,  # type: ignore[arg-type]
        communities=frozenset({"c1"}),
        app_id=app_id,
        app_secret=SecretStr(secret),
        authorize_base=fake.base_url,
        api_base=fake.base_url,
        legacy_api_base=fake.base_url,
    )
    redirect = f"https://h/l/login/{kind}/callback"

    async def run() -> str:
        async with httpx.AsyncClient() as browser:
            r = await browser.get(
                authorize_url(cfg, redirect_uri=redirect, state="s"),
                headers={pf.APP_USER_HEADER: "zhangjg"},
            )
        query = parse_qs(urlsplit(r.headers["location"]).query)
        code = (query.get("authCode") or query["code"])[0]
        clients._TOKENS.clear()  # the first login of a process fetches the app token
        assert await user_id_for_code(cfg, code=code, redirect_uri=redirect) == "zhangjg"
        return code

    return asyncio.run(run())


@pytest.mark.parametrize("kind", sorted(APPS))
@pytest.mark.parametrize("httpx_at_info", [False, True], ids=["as-configured", "httpx-info"])
def test_the_app_secret_and_login_code_stay_out_of_the_log(
    log: io.StringIO, kind: str, httpx_at_info: bool
) -> None:
    if httpx_at_info:  # an operator turning httpx's request lines back on
        logging.getLogger("httpx").setLevel(logging.INFO)
    with pf.FakePlatforms() as fake:
        code = login_once(fake, kind)
    text = log.getvalue()
    assert ("HTTP Request" in text) == httpx_at_info  # the lines the attack reads
    assert APPS[kind][1] not in text
    assert code not in text
