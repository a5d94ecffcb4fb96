"""A help request sent with a picture, through the real API and worker (real Kafka and
PostgreSQL), on each platform: WeCom `mixed`, DingTalk `richText`, Feishu `post`. It is a
request like its text alone: the group is told to call 120 at once and neighbours are
offered it (it was answered 200 `ignored` and dropped). Each callback is built with the
platform's own code (tests/support/platform_callbacks); the unit twin is
tests/unit/test_platform_photo_and_single_chat.py. WeCom's documented one-to-one sample
(`ChatType` single, with a `ChatId`) is 200 ignored, not 403 (which WeCom retries).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from dingtalk_stream import ChatbotMessage

from tests.conftest import new_stack
from tests.integration.test_platform_dingtalk import DingTalk
from tests.integration.test_platform_feishu import Feishu
from tests.integration.test_platform_wecom import WeCom
from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.platform_callbacks import Callback

FALL = "3号楼有老人摔倒了，起不来，快来人帮忙"


def wecom_photo(p: flow.Platform, text: str, msg_id: str, group: str) -> Callback:
    """WeCom's group-robot 图文混排 callback: a text item and a picture."""
    xml = (
        f"<xml><MsgId><![CDATA[{msg_id}]]></MsgId><ChatId><![CDATA[{p.group_id(group)}]]></ChatId>"
        "<ChatType>group</ChatType><From><UserId>resident-1</UserId><Name>住户</Name></From>"
        "<MsgType>mixed</MsgType><MixedMessage><MsgItem><MsgType>text</MsgType><Text>"
        f"<Content><![CDATA[@互助机器人 {text}]]></Content></Text></MsgItem><MsgItem>"
        "<MsgType>image</MsgType><Image><ImageUrl><![CDATA[http://p.qpic.cn/x/0]]></ImageUrl>"
        "</Image></MsgItem></MixedMessage></xml>"
    )
    return pc.wecom_callback(xml)


def dingtalk_photo(p: flow.Platform, text: str, msg_id: str, group: str) -> Callback:
    now = int(time.time() * 1000)
    m = ChatbotMessage.from_dict(
        {
            "msgtype": "richText",
            "content": {"richText": [{"text": text}, {"downloadCode": "dc", "type": "picture"}]},
            "msgId": msg_id,
            "conversationId": p.group_id(group),
            "conversationType": "2",
            "senderStaffId": "resident-1",
            "senderNick": "住户",
            "sessionWebhook": p.receiver.url(f"/dt/{group}") + "?session=s-" + group,
            "sessionWebhookExpiredTime": now + 3_600_000,
            "createAt": now,
        }
    )
    assert m.get_text_list() == [text]  # dingtalk-stream reads the text
    return pc.dingtalk_callback(json.dumps(m.to_dict(), ensure_ascii=False).encode())


def feishu_photo(p: flow.Platform, text: str, msg_id: str, group: str) -> Callback:
    assert isinstance(p, Feishu)
    p.asked.setdefault(group, set()).add(msg_id)  # its replies answer this message
    doc = pc.feishu_event(text, msg_id, chat=p.group_id(group))
    doc["event"]["message"]["message_type"] = "post"
    at = {"tag": "at", "user_id": "@_user_1", "user_name": "互助机器人"}
    post = {"title": "", "content": [[at, {"tag": "text", "text": " " + text}], [{"tag": "img"}]]}
    doc["event"]["message"]["content"] = json.dumps(post, ensure_ascii=False)
    cb = pc.feishu_callback(doc)
    assert pc.lark_accepts(cb)  # Feishu's own handler takes it
    return cb


PHOTO = {"wecom": wecom_photo, "dingtalk": dingtalk_photo, "feishu": feishu_photo}


@pytest.fixture(scope="module", params=[WeCom, DingTalk, Feishu], ids=lambda p: p.kind)
async def run(
    request: pytest.FixtureRequest,
    _stack_running: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[flow.Running]:
    """A namespace of its own per platform (the module's `stack` is one namespace)."""
    stack = new_stack(tmp_path_factory.mktemp(f"stack-{request.param.kind}"))
    await stack.create()
    try:
        async for running in flow.start(stack, request.param):
            yield running
    finally:
        await stack.drop()


async def test_a_request_with_a_photo_is_dispatched_with_the_120_advice(
    run: flow.Running,
) -> None:
    p, group = run.platform, "g-main"
    cb = PHOTO[p.kind](p, FALL, f"m{uuid.uuid4().hex[:12]}", group)
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, cb)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert "ignored" not in out, out
    assert out["is_request"] and out["advise_emergency_call"] and out["emergency_number"] == "120"
    await flow.wait_for_text(p, group, out["reply_text"])  # "请立即拨打120…" in the group
    request_id = out["request_id"]
    await run.receiver.wait_for(lambda: bool(flow.offers_for(run.receiver, request_id)), timeout=30)


@pytest.mark.parametrize("run", [WeCom], indirect=True, ids=["wecom"])
async def test_wecom_one_to_one_chat_is_ignored_not_refused(run: flow.Running) -> None:
    # WeCom's documented group-robot sample: a one-to-one chat, with a ChatId.
    xml = (
        "<xml><MsgId>abcdabcdabcd</MsgId><ChatId><![CDATA[wrkSFfCgAALFgnrSsWU38puiv4yvExuw]]>"
        "</ChatId><ChatType>single</ChatType><From><UserId>zhangsan</UserId></From>"
        "<MsgType>text</MsgType><Text><Content><![CDATA[@RobotA hello robot]]></Content></Text>"
        "</xml>"
    )
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, pc.wecom_callback(xml))
    assert r.status_code == 200, r.text  # was 403 unknown_group: WeCom retried three times
    assert r.json() == {"ignored": "not a configured group chat"}
