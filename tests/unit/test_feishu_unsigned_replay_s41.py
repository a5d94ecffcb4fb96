"""Session 41 audit: a Feishu app without an Encrypt Key took forged and replayed events.

Feishu signs nothing for such an app and puts its Verification Token in every body, and the
adapter checked no time: a body timestamped three days ago, with a new message id and the
requester's open_id saying "不用了，谢谢", parsed as a valid message (enough to cancel their
request or raise fake emergencies). Feishu's own SDK, set up as such an app, takes it too.

Now (1) such an event is read only while its `header.create_time` is within 5 minutes of the
clock passed in (401 `stale`, the answer a stale signature gets), and (2) outside dev mode a
bots file naming such a bot stops the process that loads it, naming the bot and the field,
never a secret. Signed (Encrypt Key) events keep their signed timestamp as their freshness:
Feishu re-sends one we did not take for hours with its first create_time. No I/O but a
temporary bots file.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Inbound,
    InboundMessage,
    Refused,
)
from dispatcher.api.platforms.feishu import FeishuAdapter
from dispatcher.groupchat.bots import (
    BotConfig,
    PlatformConfig,
    UnsignedPlatformBot,
    load_registry,
    unsigned_platform,
)
from dispatcher.settings import Settings
from tests.support import platform_callbacks as pc
from tests.support.feishu_unsigned import DAY_S, created_at, lark_accepts_plain, plain_callback

NOW = 1_796_630_400.0  # 2026-12-07 08:00 UTC: the clock the adapter is given
PLAIN = PlatformConfig(kind="feishu", verification_token=SecretStr(pc.FEISHU_TOKEN))
SIGNED = PlatformConfig(
    kind="feishu",
    verification_token=SecretStr(pc.FEISHU_TOKEN),
    encrypt_key=SecretStr(pc.FEISHU_ENCRYPT_KEY),
)


def cancel_by(requester: str, message_id: str, at: float) -> dict[str, Any]:
    """ "不用了，谢谢" from `requester` in their group, as Feishu made it at `at`."""
    return created_at(pc.feishu_event("不用了，谢谢", message_id, sender=requester), at)


def parse_plain(doc: dict[str, Any], now: float = NOW) -> Inbound:
    cb = plain_callback(doc)
    return FeishuAdapter().parse(PLAIN, CallbackRequest("POST", {}, {}, cb.body), now)


def refusal(doc: dict[str, Any], now: float = NOW) -> Refused:
    with pytest.raises(Refused) as caught:
        parse_plain(doc, now)
    return caught.value


# ------------------------------------------------------------------ 1. the adapter
def test_a_three_day_old_unsigned_cancel_with_a_new_message_id_is_refused_stale() -> None:
    forged = cancel_by("ou_the_requester", "om_forged_new_id", NOW - 3 * DAY_S)
    assert lark_accepts_plain(plain_callback(forged))  # Feishu's SDK takes it as genuine
    r = refusal(forged)
    assert (r.status, r.reason) == (401, "stale")
    assert "header.create_time" in r.message
    # The same words made now are read: only the age refuses it.
    fresh = parse_plain(cancel_by("ou_the_requester", "om_forged_new_id", NOW))
    assert isinstance(fresh, InboundMessage)
    assert (fresh.sender_id, fresh.text) == ("ou_the_requester", "不用了，谢谢")


@pytest.mark.parametrize(
    ("offset_s", "read"),
    [(-300, True), (-301, False), (300, True), (301, False), (-3600, False), (-120, True)],
)
def test_an_unsigned_event_is_read_within_five_minutes_of_the_clock(
    offset_s: float, read: bool
) -> None:
    doc = cancel_by("ou_1", f"om_{offset_s}", NOW + offset_s)
    if read:
        assert isinstance(parse_plain(doc), InboundMessage)
    else:
        assert refusal(doc).reason == "stale"


@pytest.mark.parametrize("create_time", [None, "", "soon", "-5", "1.7e12", True, [1]])
def test_an_unsigned_event_without_a_readable_create_time_is_refused(create_time: Any) -> None:
    doc = cancel_by("ou_1", "om_1", NOW)
    if create_time is None:
        del doc["header"]["create_time"]
    else:
        doc["header"]["create_time"] = create_time
    r = refusal(doc)
    assert (r.status, r.reason) == (401, "missing_signature")
    assert "header.create_time" in r.message


def test_a_number_create_time_is_read_as_feishu_s_string() -> None:
    doc = cancel_by("ou_1", "om_1", NOW)
    doc["header"]["create_time"] = int(NOW * 1000)
    assert isinstance(parse_plain(doc), InboundMessage)


def test_other_unsigned_events_are_held_to_the_same_time() -> None:
    doc = created_at(pc.feishu_event("hi", "om_1"), NOW - DAY_S)
    doc["header"]["event_type"] = "im.chat.member.user.added_v1"
    assert refusal(doc).reason == "stale"


def test_the_unsigned_url_check_has_no_time_and_is_still_answered() -> None:
    doc = {"challenge": "ch-1", "token": pc.FEISHU_TOKEN, "type": "url_verification"}
    answer = parse_plain(doc)
    assert isinstance(answer, DirectAnswer) and json.loads(answer.body) == {"challenge": "ch-1"}


def test_a_wrong_token_is_still_bad_token_whatever_its_age() -> None:
    doc = cancel_by("ou_1", "om_1", NOW - 3 * DAY_S)
    doc["header"]["token"] = "guess"
    assert refusal(doc).reason == "bad_token"


def test_a_signed_event_re_sent_hours_after_its_creation_is_still_read() -> None:
    """Feishu re-sends an event we did not answer 200 (an outage) at 15 s, 5 min, 1 h and
    6 h with the same header; each delivery is signed when sent. The signed timestamp is the
    delivery's freshness: holding it to create_time too would lose the message."""
    doc = created_at(pc.feishu_event("5号楼水管爆了，谁会修？", "om_retry"), NOW - 3600)
    cb = pc.feishu_callback(doc, ts=int(NOW))
    assert pc.lark_accepts(cb)  # Feishu's SDK, with the key, takes the signed delivery
    req = CallbackRequest("POST", {}, cb.headers, cb.body)
    msg = FeishuAdapter().parse(SIGNED, req, NOW)
    assert isinstance(msg, InboundMessage) and msg.message_id == "om_retry"
    # A captured signed delivery is still bounded by its own signed timestamp.
    with pytest.raises(Refused) as caught:
        FeishuAdapter().parse(SIGNED, req, NOW + 301)
    assert caught.value.reason == "stale"


# ------------------------------------------------------------------ 2. the bots file
def feishu_bot(bot_id: str, **platform: str) -> dict[str, Any]:
    doc = {"kind": "feishu", "verification_token": "feishu-verification-token-prod"} | platform
    return {"bot_id": bot_id, "platform": doc, "communities": ["c1"]}


def bots_file(tmp_path: Path, *bots: dict[str, Any]) -> Path:
    path = tmp_path / "bots.json"
    path.write_text(json.dumps({"bots": list(bots)}), encoding="utf-8")
    return path


@pytest.mark.parametrize("platform", [{}, {"encrypt_key": ""}], ids=["absent", "empty"])
def test_production_refuses_a_bots_file_with_a_feishu_bot_without_encrypt_key(
    tmp_path: Path, platform: dict[str, str]
) -> None:
    path = bots_file(
        tmp_path, feishu_bot("fs-keyed", encrypt_key="k"), feishu_bot("fs-open", **platform)
    )
    with pytest.raises(UnsignedPlatformBot) as caught:
        load_registry(Settings(mode="production", bots_file=path))
    why = str(caught.value)
    assert "DISPATCH_BOTS_FILE[fs-open].platform.encrypt_key is missing" in why
    assert "fs-keyed" not in why and "DISPATCH_MODE=dev" in why
    assert "feishu-verification-token-prod" not in why  # named, never echoed


def test_dev_mode_loads_it_with_a_warning_and_a_keyed_bot_loads_anywhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = bots_file(tmp_path, feishu_bot("fs-open"))
    with caplog.at_level(logging.WARNING):
        registry = load_registry(Settings(mode="dev", bots_file=path))
    assert registry.get("fs-open") is not None
    assert "DISPATCH_BOTS_FILE[fs-open].platform.encrypt_key is missing" in caplog.text
    assert "feishu-verification-token-prod" not in caplog.text
    keyed = bots_file(tmp_path, feishu_bot("fs-keyed", encrypt_key="k"))
    assert load_registry(Settings(mode="production", bots_file=keyed)).get("fs-keyed")


def test_only_a_feishu_platform_without_a_key_is_unsigned() -> None:
    wecom = {"kind": "wecom", "token": "t", "encoding_aes_key": "k" * 43}
    dingtalk = {"kind": "dingtalk", "app_secret": "s"}
    for platform in (wecom, dingtalk):
        bot = {"bot_id": "b", "platform": platform, "communities": ["c1"]}
        assert unsigned_platform(BotConfig.model_validate(bot)) is None
    assert unsigned_platform(BotConfig.model_validate(feishu_bot("b", encrypt_key="k"))) is None
    assert unsigned_platform(BotConfig.model_validate(feishu_bot("b")))


def test_the_clock_is_the_one_passed_in() -> None:
    """Made now by the wall clock, read against a clock a day ahead: refused."""
    doc = cancel_by("ou_1", "om_1", time.time())
    assert isinstance(parse_plain(doc, time.time()), InboundMessage)
    assert refusal(doc, time.time() + DAY_S).reason == "stale"
