"""DingTalk group robot posts never carry a helper's phone (privacy), and mention by userId
in the form DingTalk renders (dispatcher/push/channels/dingtalk.py).

An offer to a group robot @-mentions the helper. DingTalk shows an `at.atMobiles` mention
only when the text also holds "@<mobile>", which the whole group then reads (masked only
for non-members): the channel sent every helper's mobile in `atMobiles` (and a mention that
never showed, the text lacking it). Now no mobile goes into the post at all, and a helper is
mentioned by DingTalk userId: `at.atUserIds` plus "@<userId>" in the text, the `at` form
DingTalk's own SDK (dingtalk-stream, a dev dependency) sends for its robot replies."""

from __future__ import annotations

import json
from typing import Any

import dingtalk_stream.chatbot as sdk
import httpx
import pytest

from dispatcher.push.batching import merge_deliveries
from dispatcher.push.channels import DingTalkChannel
from dispatcher.push.endpoints import EndpointConfig, EndpointKind
from dispatcher.push.model import Delivered, Delivery, Mention, PushKind, PushMessage

PHONES = ("13800000001", "13912345673")
TEXT = "【危急】3号楼 送医\n需要2位邻居帮忙，您能来吗？"


def offer(n: int, mention: Mention) -> Delivery:
    return Delivery(
        delivery_id=f"offer-42-helper-{n}",
        endpoint="grid-robot",
        kind=PushKind.OFFER,
        message=PushMessage(title="危急：送医", text=TEXT),
        mentions=(mention,),
        batch_key="r-42:0",
        data={"request_id": "r-42"},
    )


async def posted(delivery: Delivery) -> tuple[bytes, dict[str, Any]]:
    """What the channel posts to DingTalk: the request's raw body, and as JSON."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    ep = EndpointConfig.model_validate(
        {
            "name": "grid-robot",
            "kind": EndpointKind.DINGTALK,
            "url": "http://127.0.0.1:9/robot/send",
            "token": "T",
        }
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        assert await DingTalkChannel(ep, client, lambda: 1.7e9).send(delivery) == Delivered(200)
    [request] = seen
    return request.content, json.loads(request.content)


@pytest.mark.parametrize(
    "mentions",
    [
        [Mention(mobile=PHONES[0])],
        [Mention(mobile=PHONES[0]), Mention(mobile=PHONES[1])],  # one wave, merged
        [Mention(mobile=PHONES[0], open_id="manager4220")],
    ],
)
async def test_no_phone_goes_into_a_dingtalk_group_post(mentions: list[Mention]) -> None:
    delivery = merge_deliveries([offer(n, m) for n, m in enumerate(mentions)])
    raw, body = await posted(delivery)
    for phone in PHONES:
        assert phone.encode() not in raw
    assert "atMobiles" not in body["at"] and body["at"]["isAtAll"] is False


async def test_a_helper_is_mentioned_by_user_id_as_dingtalk_renders_it() -> None:
    delivery = merge_deliveries(
        [
            offer(1, Mention(mobile=PHONES[0], open_id="manager4220")),
            offer(2, Mention(open_id="0154120888")),
        ]
    )
    _, body = await posted(delivery)
    assert body["at"] == {"atUserIds": ["manager4220", "0154120888"], "isAtAll": False}
    assert body["text"]["content"] == "@manager4220 @0154120888 " + TEXT
    assert body["msgtype"] == "text"


async def test_an_id_that_is_no_user_id_is_not_written_into_the_text() -> None:
    _, body = await posted(offer(1, Mention(open_id="x\n@all 13800000001")))
    assert body["at"]["atUserIds"] == [] and body["text"]["content"] == TEXT


async def test_the_mention_has_the_form_dingtalks_sdk_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dingtalk-stream's own text reply: the same `msgtype`, `text` and `at.atUserIds`."""
    sent: list[dict[str, Any]] = []

    class Answer:
        text = "{}"

        def raise_for_status(self) -> None: ...

        def json(self) -> dict[str, Any]:
            return {"errcode": 0}

    def post(url: str, headers: dict[str, str], data: str) -> Answer:
        sent.append(json.loads(data))
        return Answer()

    monkeypatch.setattr(sdk.requests, "post", post)
    incoming = sdk.ChatbotMessage()
    incoming.sender_staff_id = "manager4220"
    incoming.session_webhook = "https://oapi.dingtalk.com/robot/sendBySession?session=s"
    sdk.ChatbotHandler().reply_text("@manager4220 " + TEXT, incoming)
    [theirs] = sent
    assert theirs == {
        "msgtype": "text",
        "text": {"content": "@manager4220 " + TEXT},
        "at": {"atUserIds": ["manager4220"]},
    }
    _, ours = await posted(offer(1, Mention(open_id="manager4220")))
    assert {k: v for k, v in ours.items() if k != "at"} == {
        k: v for k, v in theirs.items() if k != "at"
    }
    assert ours["at"]["atUserIds"] == theirs["at"]["atUserIds"]
