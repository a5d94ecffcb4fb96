"""`make run`'s dev bots and the README's platform samples (python -m dispatcher
platform-sample): every sample is accepted by its adapter and lands in a demo group."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from dispatcher.api.platforms import ADAPTERS
from dispatcher.api.platforms.base import CallbackRequest, InboundMessage
from dispatcher.api.platforms.sample_cli import BUILDERS, main
from dispatcher.groupchat.bots import load_registry
from dispatcher.groupchat.dev_bots import DEV_PLATFORMS
from dispatcher.settings import Settings


@pytest.mark.parametrize("platform", sorted(BUILDERS))
def test_sample_is_accepted_by_the_dev_bot(platform: str) -> None:
    query, headers, body = BUILDERS[platform](
        "3号楼有老人摔倒了", "demo-kaiyuan-c11-b3", "u1", "m1"
    )
    req = CallbackRequest("POST", query, {k.lower(): v for k, v in headers.items()}, body)
    msg = ADAPTERS[platform].parse(DEV_PLATFORMS[platform], req, time.time())
    assert isinstance(msg, InboundMessage)
    assert (msg.group_id, msg.message_id, msg.text) == (
        "demo-kaiyuan-c11-b3",
        "m1",
        "3号楼有老人摔倒了",
    )
    registry = load_registry(Settings(bots_file=None, mode="dev"))
    group = registry.bots[f"dev-{platform}"].groups[msg.group_id]
    assert (group.community_id, group.compound_id, group.building_id) == (
        "demo-kaiyuan",
        "c11",
        "b3",
    )


def test_dev_bots_cover_every_kind_of_group() -> None:
    bot = load_registry(Settings(bots_file=None, mode="dev")).bots["dev-bot"]
    assert {"dev-group", "demo-zhonghua", "demo-zhonghua-g1", "demo-zhonghua-c11"} <= set(
        bot.groups
    )
    assert bot.groups["demo-lujiang-c22-b4"].building_id == "b4"


def test_cli_prints_a_curl_to_the_dev_bot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wecom", "5号楼水管爆了", "--api", "http://127.0.0.1:9999"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("curl -sS -X POST 'http://127.0.0.1:9999/v1/platforms/wecom/dev-wecom?")
    url = out.split("'")[1]
    assert {"msg_signature", "timestamp", "nonce"} <= dict(parse_qsl(urlsplit(url).query)).keys()
