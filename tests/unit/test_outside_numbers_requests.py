"""Numbers and JSON from outside that crashed the API with a 500 (fuzz review): each case
here is the request that did it, through the real app, answered now with a 4xx (or the
route's own "not signed in" page) and no exception.

1. `webhook-timestamp: ²` on the bot routes (`isdigit` said yes, `int` said no);
2. a staff session or device cookie whose number is "²" or 5000 digits;
3. platform callbacks: a timestamp of "--5" or "²"; a body nested 100 000 deep;
4. `POST /v1/requests` with JSON nested too deep for `json.loads`;
5. the assignment's "done" with `minutes=²` or 5000 digits;
6. a signed DingTalk message whose `sessionWebhookExpiredTime` no clock can show.

PostgreSQL is a fake that takes the staff audit's writes (nothing here gets further than
that), the platform route's edge statements are faked as in
tests/unit/test_platform_cancel_emergency.py, and Kafka is a list.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.platforms import feishu, routes, wecom
from dispatcher.api.platforms.base import Refused
from dispatcher.api.view_cookie import cookie_name
from dispatcher.clock import utcnow
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace, PlatformConfig
from dispatcher.links import contact_view_proof, offer_token
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge import intake
from dispatcher.settings import Settings
from tests.support import platform_callbacks as pc
from tests.support.bot import BOT_ID, BOT_SECRET, bound_payload, sign
from tests.support.in_process import api_client
from tests.unit.test_api_clock import RecordingSink

COMMUNITY = "comm-n"
GROUP = "grp-n"
STAFF = {"Authorization": "Bearer dev-staff-token"}
SUPERSCRIPT = b"\xb2"  # "²" as a header byte: str.isdigit() is true, int() refuses it
HUGE = b"9" * 5000  # past int()'s 4300-digit limit
NOT_NUMBERS = (SUPERSCRIPT, b"--5", HUGE)
DEEP = b"[" * 100_000
PLACE = GroupPlace(community_id=COMMUNITY, grid_id="g1", compound_id="c1")
LIMITS = {"rate_per_minute": 1e6, "burst": 1e6, "group_rate_per_minute": 1e6, "group_burst": 1e6}


def platform_bot(bot_id: str, platform: PlatformConfig) -> BotConfig:
    return BotConfig(
        bot_id=bot_id,
        platform=platform,
        communities=frozenset({COMMUNITY}),
        groups={GROUP: PLACE},
        **LIMITS,
    )


BOTS = [
    BotConfig(
        bot_id=BOT_ID,
        secrets=(SecretStr(BOT_SECRET),),
        communities=frozenset({COMMUNITY}),
        groups={GROUP: PLACE},
        **LIMITS,
    ),
    platform_bot(
        "wc",
        PlatformConfig(
            kind="wecom",
            token=SecretStr(pc.WECOM_TOKEN),
            encoding_aes_key=SecretStr(pc.WECOM_AES_KEY),
            receive_id=pc.WECOM_CORP,
        ),
    ),
    platform_bot("dt", PlatformConfig(kind="dingtalk", app_secret=SecretStr(pc.DINGTALK_SECRET))),
    platform_bot(
        "fs",
        PlatformConfig(
            kind="feishu",
            verification_token=SecretStr(pc.FEISHU_TOKEN),
            encrypt_key=SecretStr(pc.FEISHU_ENCRYPT_KEY),
        ),
    ),
    platform_bot(
        "fsplain", PlatformConfig(kind="feishu", verification_token=SecretStr(pc.FEISHU_TOKEN))
    ),
]


class Pool:
    """The statements that run before any of these refusals: the staff audit's insert."""

    async def execute(self, *args: Any, **kwargs: Any) -> str:
        return "INSERT 0 1"

    async def executemany(self, *args: Any, **kwargs: Any) -> None: ...


class Replies:
    def expect(self, thread: Any) -> None: ...

    def release(self, thread: Any) -> None: ...

    async def immediate(self, thread: Any, text: str, message_id: str) -> None: ...


class Api:
    def __init__(self, client: httpx.AsyncClient, sink: RecordingSink, settings: Settings):
        self.client, self.sink, self.settings = client, sink, settings


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    async def nothing(*args: Any, **kwargs: Any) -> None: ...

    async def no_open_request(*args: Any) -> list[str]:
        return []

    async def never_asked(*args: Any) -> bool:
        return False

    async def submit(db: Any, **kwargs: Any) -> intake.Submitted:
        return intake.Submitted(claimed=True, earlier=None)

    # The platform route's edge statements (no PostgreSQL in unit tests).
    monkeypatch.setattr(threads, "open_requests_of", no_open_request)
    monkeypatch.setattr(threads, "not_found_due", never_asked)
    monkeypatch.setattr(threads, "record", nothing)
    monkeypatch.setattr(routes, "claim_webhook_id", nothing)
    monkeypatch.setattr(intake, "submit", submit)
    settings = Settings()
    sink = RecordingSink()
    bots = BotRegistry.from_list(BOTS)
    deps = ApiDeps(settings=settings, sink=sink, bots=bots, _pool=Pool())  # type: ignore[arg-type]
    app = create_app(settings, deps)
    app.state.group_replies = Replies()
    async with api_client(app) as client:
        yield Api(client, sink, settings)


def reason(r: httpx.Response) -> str:
    body = r.json()
    return str(body.get("reason") or body.get("detail", {}).get("reason"))


# ------------------------------------------------------------ 1. webhook-timestamp


@pytest.mark.parametrize("stamp", NOT_NUMBERS, ids=["superscript", "double-minus", "huge"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/requests/r-1", b""),
        ("POST", "/v1/messages", b"{}"),
        ("POST", "/v1/requests", b"{}"),
        ("POST", "/v1/requests/r-1/cancel", b"{}"),
    ],
)
async def test_a_webhook_timestamp_that_is_no_number_is_401_bad_headers(
    api: Api, method: str, path: str, body: bytes, stamp: bytes
) -> None:
    signed = sign(bound_payload(method, path, body))
    headers = {k.encode(): v.encode() for k, v in signed.items()} | {
        b"webhook-timestamp": stamp,
        b"x-bot-id": BOT_ID.encode(),
        b"content-type": b"application/json",
    }
    r = await api.client.request(method, path, content=body or None, headers=headers)
    assert r.status_code == 401, r.text
    assert reason(r) == "bad_headers"
    assert "²" not in r.text


# ------------------------------------------------------------ 2. cookies


STAFF_COOKIES = (b"a:" + SUPERSCRIPT + b":x", b"dev:" + HUGE + b":x", b"a:\xb9\xb9:x")


@pytest.mark.parametrize("cookie", STAFF_COOKIES, ids=["superscript", "huge", "superscripts"])
async def test_a_staff_session_whose_expiry_is_no_number_is_no_session(
    api: Api, cookie: bytes
) -> None:
    headers = {b"cookie": b"dispatch_staff=" + cookie}
    r = await api.client.get("/ops/v1/overview", headers=headers)
    assert r.status_code == 401, r.text
    r = await api.client.get("/dashboard", headers=headers)
    assert r.status_code == 200 and 'name="token"' in r.text  # the sign-in form, as unsigned


@pytest.mark.parametrize("cookie", [b"a:b:" + SUPERSCRIPT + b":c", b"a:b:" + HUGE + b":c"])
async def test_a_device_cookie_whose_expiry_is_no_number_is_no_bound_phone(
    api: Api, cookie: bytes
) -> None:
    headers = {b"cookie": b"dispatch_helper=" + cookie}
    r = await api.client.get("/l/me", headers=headers)
    assert r.status_code == 401 and "请先绑定手机" in r.text, r.text
    r = await api.client.post("/l/me/offers/o-1/accept", headers=headers)
    assert r.status_code == 401, r.text


# ------------------------------------------------------------ 3. platform callbacks


STAMPS = ("--5", "%C2%B2", "-")  # as they travel in WeCom's query string


@pytest.mark.parametrize("stamp", STAMPS)
async def test_wecom_timestamps_that_are_no_number_are_401(api: Api, stamp: str) -> None:
    base = f"/v1/platforms/wecom/wc?msg_signature=x&timestamp={stamp}&nonce=n"
    r = await api.client.get(base + "&echostr=abc")
    assert (r.status_code, reason(r)) == (401, "missing_signature"), r.text
    xml = b"<xml><Encrypt>abc</Encrypt></xml>"
    r = await api.client.post(base, content=xml, headers={"content-type": "text/xml"})
    assert (r.status_code, reason(r)) == (401, "missing_signature"), r.text
    assert "²" not in r.text and "--5" not in r.text


@pytest.mark.parametrize("stamp", [b"--5", SUPERSCRIPT, b"-", HUGE])
async def test_dingtalk_and_feishu_timestamps_that_are_no_number_are_401(
    api: Api, stamp: bytes
) -> None:
    r = await api.client.post(
        "/v1/platforms/dingtalk/dt",
        content=b"{}",
        headers={b"timestamp": stamp, b"sign": b"x", b"content-type": b"application/json"},
    )
    assert (r.status_code, reason(r)) == (401, "missing_signature"), r.text
    headers = {b"x-lark-request-timestamp": stamp, b"x-lark-signature": b"x"}
    r = await api.client.post(
        "/v1/platforms/feishu/fs", content=b'{"encrypt":"abc"}', headers=headers
    )
    assert (r.status_code, reason(r)) == (401, "missing_signature"), r.text


async def test_a_wecom_body_nested_too_deep_is_400_malformed(api: Api) -> None:
    path = f"/v1/platforms/wecom/wc?msg_signature=x&timestamp={int(time.time())}&nonce=n"
    for body in (b'{"a":' + DEEP, b'{"encrypt":' + DEEP):
        r = await api.client.post(path, content=body, headers={"content-type": "application/json"})
        assert (r.status_code, reason(r)) == (400, "malformed"), r.text


async def test_a_decrypted_wecom_json_nested_too_deep_is_400_malformed() -> None:
    """The smart robot's decrypted message is JSON too (no route reaches it with a deep
    one unless WeCom's own key signed it, so the adapter is asked directly)."""
    with pytest.raises(Refused) as info:
        wecom.WeComAdapter._from_json("{" + '"a":' + "[" * 5000, "wecom:x")
    assert info.value.reason == "malformed"


async def test_a_signed_dingtalk_body_nested_too_deep_is_400_malformed(api: Api) -> None:
    cb = pc.dingtalk_callback(DEEP)
    r = await api.client.post("/v1/platforms/dingtalk/dt", content=DEEP, headers=cb.headers)
    assert (r.status_code, reason(r)) == (400, "malformed"), r.text


async def test_feishu_bodies_nested_too_deep_are_400(api: Api) -> None:
    # No Encrypt Key: the body is the event.
    r = await api.client.post("/v1/platforms/feishu/fsplain", content=DEEP)
    assert (r.status_code, reason(r)) == (400, "malformed"), r.text
    # An Encrypt Key, unsigned (the URL check's way): refused before any decryption.
    r = await api.client.post("/v1/platforms/feishu/fs", content=DEEP)
    assert (r.status_code, reason(r)) == (400, "malformed"), r.text
    # Signed: the outer body.
    t, nonce = str(int(time.time())), "n1"
    sig = feishu.signature(t, nonce, pc.FEISHU_ENCRYPT_KEY, DEEP)
    headers = {
        "x-lark-request-timestamp": t,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": sig,
    }
    r = await api.client.post("/v1/platforms/feishu/fs", content=DEEP, headers=headers)
    assert (r.status_code, reason(r)) == (400, "malformed"), r.text


async def test_a_signed_feishu_message_whose_content_nests_too_deep_is_400(api: Api) -> None:
    doc = pc.feishu_event("x", f"om_{uuid.uuid4().hex[:8]}", chat=GROUP)
    doc["event"]["message"]["content"] = "[" * 5000
    cb = pc.feishu_callback(doc)
    r = await api.client.post("/v1/platforms/feishu/fs", content=cb.body, headers=cb.headers)
    assert (r.status_code, reason(r)) == (400, "malformed"), r.text


# ------------------------------------------------------------ 4. deep JSON to the intake


@pytest.mark.parametrize(
    "body", [DEEP, b'{"a":' * 5000 + b"1" + b"}" * 5000], ids=["array", "object"]
)
async def test_a_request_nested_too_deep_is_422_json_invalid(api: Api, body: bytes) -> None:
    headers = {**STAFF, "content-type": "application/json"}
    r = await api.client.post("/v1/requests", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert [e["type"] for e in r.json()["detail"]] == ["json_invalid"]
    # A signed bot gets the same answer.
    signed = sign(bound_payload("POST", "/v1/requests", body))
    headers = {**signed, "x-bot-id": BOT_ID, "content-type": "application/json"}
    r = await api.client.post("/v1/requests", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert [e["type"] for e in r.json()["detail"]] == ["json_invalid"]


# ------------------------------------------------------------ 5. the assignment's minutes


@pytest.mark.parametrize(
    "minutes",
    ["%C2%B2", "9" * 5000, "%EF%BC%95", "%D9%A3", "-1", "1e3", "%2B5", "1_0", "1441"],
    ids=[
        "superscript",
        "huge",
        "fullwidth",
        "arabic-indic",
        "negative",
        "exp",
        "plus",
        "_",
        "max+1",
    ],
)
async def test_minutes_that_are_no_number_of_minutes_are_422(api: Api, minutes: str) -> None:
    token = offer_token(
        api.settings,
        action="accept",
        request_id="r-1",
        offer_id="o-1",
        helper_id="h-1",
        community_id=COMMUNITY,
        expires_at=utcnow() + timedelta(hours=1),
    )
    cookie = f"{cookie_name('o-1')}={contact_view_proof(api.settings, 'o-1', 'h-1')}"
    r = await api.client.post(
        f"/l/o/{token}/p/done",
        content=f"minutes={minutes}".encode(),
        headers={"cookie": cookie, "content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422 and "分钟数不对" in r.text, r.text


# ------------------------------------------------------------ 6. DingTalk's webhook expiry


@pytest.mark.parametrize("expires", [10**30, -(10**18), True, "soon", 1.5e12])
async def test_a_dingtalk_webhook_expiry_no_clock_shows_is_400(api: Api, expires: object) -> None:
    doc = json.loads(
        pc.dingtalk_body("3号楼有老人摔倒了", f"m-{uuid.uuid4().hex[:8]}", conversation=GROUP)
    )
    doc["sessionWebhookExpiredTime"] = expires
    body = json.dumps(doc, ensure_ascii=False).encode()
    cb = pc.dingtalk_callback(body)
    r = await api.client.post("/v1/platforms/dingtalk/dt", content=body, headers=cb.headers)
    assert (r.status_code, reason(r)) == (400, "malformed"), r.text
    assert "sessionWebhookExpiredTime" in r.text and str(expires) not in r.text


async def test_a_dingtalk_message_with_a_real_expiry_still_comes_in(api: Api) -> None:
    """The check refuses only what no clock shows: DingTalk's own body is dispatched."""
    body = pc.dingtalk_body("帮忙买点菜", f"m-{uuid.uuid4().hex[:8]}", conversation=GROUP)
    cb = pc.dingtalk_callback(body)
    r = await api.client.post("/v1/platforms/dingtalk/dt", content=body, headers=cb.headers)
    assert r.status_code == 200, r.text
    assert api.sink.sent, "the request was queued"
