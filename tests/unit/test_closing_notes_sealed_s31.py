"""What people type when a request ends (a cancel's reason, a resolve's or a referral's
note, the department named) travels sealed, like the request's own text; the department's
name shows with phones and digits masked; platform error messages in failure reasons are
masked too (privacy audit, session 32)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from dispatcher.api.requests import _status_out
from dispatcher.ops.dashboard_data import _closed_row
from dispatcher.ops.live_feed import public_view
from dispatcher.push.channels.dingtalk import DingTalkChannel
from dispatcher.push.channels.feishu import FeishuChannel
from dispatcher.push.channels.wecom import WeComChannel
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import PermanentFailure
from dispatcher.redact import masked
from dispatcher.sealing import (
    KeyRing,
    Unreadable,
    open_note,
    seal_closing,
    seal_command,
)
from schemas.commands import CancelRequest, ClosingNote, ReferRequest, ResolveRequest, new_command
from schemas.vocab import Party, ReferralTarget
from tests.unit.conftest import World

KEY = "contact-key-" + "k" * 32
ID_KEY = "helper-id-key-" + "i" * 32
PHONE = "13800004444"
FLAT = "住9号楼9单元909室"
REASON = f"不用了，我儿子{PHONE}会来，{FLAT}"
DEPARTMENT = f"街道王主任{PHONE}"


def ring() -> KeyRing:
    return KeyRing(KEY, [], ID_KEY)


def leaked(wire: str) -> list[str]:
    return [m for m in (PHONE, "909室", "9号楼") if m in wire]


def test_a_cancel_reason_travels_sealed_and_opens_for_its_request() -> None:
    body = seal_closing(ring(), CancelRequest(request_id="r-1", by=Party.REQUESTER, reason=REASON))
    assert leaked(body.model_dump_json()) == [] and body.reason == ""
    assert body.sealed_note is not None
    assert open_note(ring(), "r-1", body.sealed_note) == ClosingNote(text=REASON)
    with pytest.raises(Unreadable):  # moved into another request's record
        open_note(ring(), "r-2", body.sealed_note)
    assert seal_closing(ring(), body) is body  # sealing twice changes nothing


def test_nothing_typed_adds_no_box() -> None:
    body = ResolveRequest(request_id="r-1", by=Party.STAFF)
    assert seal_closing(ring(), body) is body
    assert "sealed_note" not in body.model_dump_json()  # earlier bytes kept


def test_a_referral_seals_note_and_department_and_masks_the_department() -> None:
    plain = ReferRequest(
        request_id="r-1", to=ReferralTarget.DEPARTMENT, note=REASON, department=DEPARTMENT
    )
    body = seal_closing(ring(), plain)
    assert leaked(body.model_dump_json()) == []
    assert body.department == "街道王主任[phone]" and body.note == ""
    assert body.sealed_note is not None
    opened = open_note(ring(), "r-1", body.sealed_note)
    assert opened == ClosingNote(text=REASON, department=DEPARTMENT)
    assert masked("城管") == "城管" and masked("3栋1202室") == "#栋####室"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # A flat written in Chinese numerals (before session 34: left in the clear).
        ("街道办三号楼二单元五零二室", "街道办#号楼#单元###室"),
        ("您好，十二栋幺零二", "您好，##栋###"),
        ("门牌七零八", "门牌###"),
        ("3栋1202室", "#栋####室"),
        ("王主任幺三九一二三四五六七八", "王主任[phone]"),
        # Words that merely contain a numeral stay readable.
        ("第一社区卫生服务中心", "第一社区卫生服务中心"),
        ("城管", "城管"),
    ],
)
def test_what_shows_in_the_clear_hides_flats_in_any_numerals(text: str, shown: str) -> None:
    assert masked(text) == shown


def test_a_plain_closing_command_from_before_is_sealed_on_decode() -> None:
    old = new_command(
        ResolveRequest(request_id="r-1", by=Party.STAFF, note=REASON),
        community_id="c1",
        issued_at=datetime.now(UTC),
    )
    sealed = seal_command(ring(), old)
    assert leaked(sealed.model_dump_json()) == []
    assert isinstance(sealed.body, ResolveRequest) and sealed.body.sealed_note is not None
    assert open_note(ring(), "r-1", sealed.body.sealed_note).text == REASON


@pytest.mark.parametrize("kind", ["cancel", "resolve", "refer"])
def test_the_core_copies_the_box_into_the_event_never_the_text(world: World, kind: str) -> None:
    world.submit()
    plain = {
        "cancel": CancelRequest(request_id="req-1", by=Party.STAFF, reason=REASON),
        "resolve": ResolveRequest(request_id="req-1", by=Party.STAFF, note=REASON),
        "refer": ReferRequest(
            request_id="req-1", to=ReferralTarget.DEPARTMENT, note=REASON, department=DEPARTMENT
        ),
    }[kind]
    body = seal_closing(ring(), plain)
    out = world.run(body)
    [closed] = [
        e
        for e in out.events
        if e.body.type.startswith("request_") and e.body.type != "request_opened"
    ]
    assert leaked(closed.model_dump_json()) == []
    assert closed.body.sealed_note == body.sealed_note


def test_the_live_feed_sends_a_referral_only_where_it_went(world: World) -> None:
    world.submit()
    out = world.run(
        ReferRequest(request_id="req-1", to=ReferralTarget.DEPARTMENT, department=DEPARTMENT)
    )
    [event] = [e for e in out.events if e.body.type == "request_referred"]
    view = public_view(event)
    assert view is not None and view["to"] == "department" and "department" not in view


def test_read_model_departments_from_before_show_masked() -> None:
    row = {"referred_department": DEPARTMENT, "closed_at": None}
    assert _closed_row(row)["referred_department"] == "街道王主任[phone]"
    status = {
        "request_id": "r-1",
        "community_id": "c1",
        "category": "errand",
        "urgency": "normal",
        "status": "referred",
        "outcome": "referred",
        "ring": None,
        "step": 0,
        "helpers_needed": 1,
        "helpers_assigned": 0,
        "offers_sent": 0,
        "opened_at": "2026-12-06T00:00:00+00:00",
        "first_offer_at": None,
        "first_accept_at": None,
        "closed_at": "2026-12-06T00:01:00+00:00",
        "claimed_by": None,
        "claimed_at": None,
        "referred_to": "department",
        "referred_department": f"{FLAT}物业",
        "held_until": None,
    }
    assert _status_out(status).referred_department == "住#号楼#单元###室物业"


ECHO = f"content contains sensitive words: {REASON} (hint: [1733]) from ip: 10.0.0.7"


@pytest.mark.parametrize(
    ("channel", "kind", "url", "answer", "code"),
    [
        (
            WeComChannel,
            "wecom",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
            {"errcode": 40058, "errmsg": ECHO},
            "wecom errcode 40058: ",
        ),
        (
            DingTalkChannel,
            "dingtalk",
            "https://oapi.dingtalk.com/robot/send",
            {"errcode": 310000, "errmsg": ECHO},
            "dingtalk errcode 310000: ",
        ),
        (
            FeishuChannel,
            "feishu",
            "https://open.feishu.cn/open-apis/bot/v2/hook/x",
            {"code": 19021, "msg": ECHO},
            "feishu code 19021: ",
        ),
    ],
)
async def test_a_platform_echoing_the_message_leaves_no_phone_in_the_failure_reason(
    channel: type, kind: str, url: str, answer: dict[str, object], code: str
) -> None:
    endpoint = EndpointConfig.model_validate({"name": "ep", "kind": kind, "url": url, "token": "t"})
    async with httpx.AsyncClient() as client:
        result = channel(endpoint, client).classify_body(httpx.Response(200, json=answer))
    assert isinstance(result, PermanentFailure)
    assert result.reason.startswith(code)  # the code kept for the operator
    assert leaked(result.reason) == [] and "[phone]" in result.reason
