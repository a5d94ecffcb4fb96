"""Two findings on the platform callbacks, against the platforms' own code.

1. A help request sent with a picture is a request: WeCom `mixed` (XML group robot and
   JSON smart robot), DingTalk `richText`, Feishu `post` (bare, as received, or wrapped
   in a locale). Its text items, in order, go to intake like a text message's text (the
   robot's own @mention removed as there); a picture alone is still ignored. Each payload
   is checked against the platform's SDK reading the same payload: wechatpy's
   `parse_message`, dingtalk-stream's `ChatbotMessage.get_text_list`, lark-oapi's
   `parse_message_content` + `flatten` (and its event handler taking the request).
2. WeCom's documented one-to-one sample (`<ChatType>single</ChatType>` with a `ChatId`) is
   not a group: 200 ignored, not 403 unknown_group (which WeCom retries three times).

Adapters first (no I/O), then through the route, where PostgreSQL's edge statements are
fakes (as in test_platform_cancel_emergency.py) and the sink records what would go to
Kafka.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from dingtalk_stream import ChatbotMessage
from lark_oapi.channel.normalize import flatten, parse_message_content
from pydantic import SecretStr
from wechatpy.enterprise import parse_message

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.platforms import ADAPTERS, routes
from dispatcher.api.platforms.base import CallbackRequest, Ignored, Inbound, InboundMessage
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace, PlatformConfig
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge import intake
from dispatcher.settings import Settings
from schemas.commands import SubmitRequest
from tests.support import platform_callbacks as pc
from tests.support.dingtalk_app import CommandSink as Sink
from tests.support.dingtalk_app import Replies

FALL = "3号楼有老人摔倒了，起不来，快来人帮忙"
BOT_NAME = "互助机器人"
CHAT = {"wecom": "wrkSFfCgAAxxx", "dingtalk": "cidGroup123+/=", "feishu": "oc_group1"}
PLATFORMS = {
    "wecom": PlatformConfig(
        kind="wecom",
        token=SecretStr(pc.WECOM_TOKEN),
        encoding_aes_key=SecretStr(pc.WECOM_AES_KEY),
        receive_id=pc.WECOM_CORP,
    ),
    "dingtalk": PlatformConfig(kind="dingtalk", app_secret=SecretStr(pc.DINGTALK_SECRET)),
    "feishu": PlatformConfig(
        kind="feishu",
        verification_token=SecretStr(pc.FEISHU_TOKEN),
        encrypt_key=SecretStr(pc.FEISHU_ENCRYPT_KEY),
    ),
}
IMAGE = "<MsgItem><MsgType>image</MsgType><Image><ImageUrl><![CDATA[http://p.qpic.cn/x/0]]></ImageUrl></Image></MsgItem>"


def parse(platform: str, cb: pc.Callback, config: PlatformConfig | None = None) -> Inbound:
    req = CallbackRequest("POST", cb.query, cb.headers, cb.body)
    return ADAPTERS[platform].parse(config or PLATFORMS[platform], req, time.time())


def text_of(inbound: Inbound) -> str:
    assert isinstance(inbound, InboundMessage), inbound
    return inbound.text


# ---------------------------------------------------------------- WeCom


def wecom_xml(msg_type: str, body: str, *, chat_type: str = "group") -> str:
    """The shape of WeCom's group-robot callback samples (群机器人回调)."""
    return (
        "<xml><WebhookUrl> <![CDATA[http://in.qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K]]>"
        f"</WebhookUrl><MsgId><![CDATA[{uuid.uuid4().hex}]]></MsgId>"
        f"<ChatId><![CDATA[{CHAT['wecom']}]]></ChatId><ChatType>{chat_type}</ChatType>"
        "<From><UserId>zhangsan</UserId><Name><![CDATA[张三]]></Name></From>"
        f"<MsgType>{msg_type}</MsgType>{body}</xml>"
    )


def text_item(text: str) -> str:
    content = f"<Text><Content><![CDATA[{text}]]></Content></Text>"
    return f"<MsgItem><MsgType>text</MsgType>{content}</MsgItem>"


def mixed(*items: str) -> str:
    return wecom_xml("mixed", "<MixedMessage>" + "".join(items) + "</MixedMessage>")


def wechatpy_texts(xml: str) -> list[str]:
    """wechatpy's reading of the same XML: the text items of MixedMessage, in order."""
    data = parse_message(xml)._data
    assert data["MsgType"] == "mixed"
    items = data["MixedMessage"]["MsgItem"]
    items = items if isinstance(items, list) else [items]
    return [i["Text"]["Content"] for i in items if i["MsgType"] == "text"]


def wecom_json(doc: dict[str, Any]) -> pc.Callback:
    """The smart robot's JSON callback (智能机器人 接收消息), encrypted by wechatpy."""
    cb = pc.wecom_callback(json.dumps(doc, ensure_ascii=False), corp="")
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", cb.body.decode())
    assert encrypted is not None
    return pc.Callback(query=cb.query, body=json.dumps({"encrypt": encrypted[1]}).encode())


def robot_mixed(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "msgid": uuid.uuid4().hex,
        "aibotid": "AIBOT",
        "chatid": CHAT["wecom"],
        "chattype": "group",
        "from": {"userid": "lisi"},
        "msgtype": "mixed",
        "mixed": {"msg_item": list(items)},
    }


ROBOT = PLATFORMS["wecom"].model_copy(update={"receive_id": ""})  # the smart robot has none
JSON_IMAGE = {"msgtype": "image", "image": {"url": "https://x/0"}}


def test_wecom_mixed_text_and_picture_is_the_request() -> None:
    xml = mixed(text_item(f"@{BOT_NAME} {FALL}"), IMAGE)
    assert wechatpy_texts(xml) == [f"@{BOT_NAME} {FALL}"]
    msg = parse("wecom", pc.wecom_callback(xml))
    assert isinstance(msg, InboundMessage) and msg.is_group
    assert (msg.text, msg.group_id, msg.sender_id) == (FALL, CHAT["wecom"], "zhangsan")


def test_wecom_mixed_text_items_are_read_in_order_around_pictures() -> None:
    xml = mixed(IMAGE, text_item(f"@{BOT_NAME} 5号楼"), IMAGE, text_item("有人晕倒了"))
    assert wechatpy_texts(xml) == [f"@{BOT_NAME} 5号楼", "有人晕倒了"]
    assert text_of(parse("wecom", pc.wecom_callback(xml))) == "5号楼\n有人晕倒了"


def test_wecom_mixed_pictures_alone_are_ignored() -> None:
    xml = mixed(IMAGE, IMAGE)
    assert wechatpy_texts(xml) == []
    got = parse("wecom", pc.wecom_callback(xml))
    assert isinstance(got, Ignored) and got.what == "wecom mixed"


def test_wecom_smart_robot_mixed_json_is_the_request() -> None:
    text = {"msgtype": "text", "text": {"content": f"@{BOT_NAME} {FALL}"}}
    msg = parse("wecom", wecom_json(robot_mixed(text, JSON_IMAGE)), ROBOT)
    assert isinstance(msg, InboundMessage) and msg.is_group and msg.text == FALL
    alone = parse("wecom", wecom_json(robot_mixed(JSON_IMAGE)), ROBOT)
    assert isinstance(alone, Ignored) and alone.what == "wecom mixed"


# ---------------------------------------------------------------- DingTalk


def dingtalk_rich(items: list[dict[str, Any]]) -> tuple[pc.Callback, list[str]]:
    """A richText callback built by dingtalk-stream's model, and that model's own text."""
    now = int(time.time() * 1000)
    m = ChatbotMessage.from_dict(
        {
            "msgtype": "richText",
            "content": {"richText": items},
            "msgId": f"msg{uuid.uuid4().hex}",
            "conversationId": CHAT["dingtalk"],
            "conversationType": "2",
            "senderStaffId": "staff-001",
            "senderNick": "住户",
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
            "sessionWebhookExpiredTime": now + 3_600_000,
            "createAt": now,
        }
    )
    body = json.dumps(m.to_dict(), ensure_ascii=False).encode()
    return pc.dingtalk_callback(body), m.get_text_list()


PICTURE = {"downloadCode": "dc1", "type": "picture"}


def test_dingtalk_rich_text_with_a_picture_is_the_request() -> None:
    cb, sdk_texts = dingtalk_rich([{"text": FALL}, PICTURE])
    assert sdk_texts == [FALL]
    msg = parse("dingtalk", cb)
    assert isinstance(msg, InboundMessage) and msg.is_group
    assert (msg.text, msg.group_id, msg.message_id) == (
        FALL,
        CHAT["dingtalk"],
        json.loads(cb.body)["msgId"],
    )
    assert msg.reply.session_webhook is not None


def test_dingtalk_rich_text_items_are_read_in_order_as_the_sdk_reads_them() -> None:
    cb, sdk_texts = dingtalk_rich([PICTURE, {"text": "5号楼 "}, PICTURE, {"text": "有人晕倒了"}])
    assert sdk_texts == ["5号楼 ", "有人晕倒了"]
    assert text_of(parse("dingtalk", cb)) == "\n".join(sdk_texts).strip()


def test_dingtalk_rich_text_pictures_alone_are_ignored() -> None:
    cb, sdk_texts = dingtalk_rich([PICTURE, PICTURE])
    assert sdk_texts == []
    got = parse("dingtalk", cb)
    assert isinstance(got, Ignored) and got.what == "dingtalk richText"


# ---------------------------------------------------------------- Feishu


def bot_at() -> dict[str, Any]:
    return {"tag": "at", "user_id": "@_user_1", "user_name": BOT_NAME}


def img() -> dict[str, Any]:
    return {"tag": "img", "image_key": "img_v2_x"}


def feishu_post(post: dict[str, Any]) -> pc.Callback:
    doc = pc.feishu_event(FALL, f"om_{uuid.uuid4().hex}", chat=CHAT["feishu"])
    doc["event"]["message"]["message_type"] = "post"
    doc["event"]["message"]["content"] = json.dumps(post, ensure_ascii=False)
    cb = pc.feishu_callback(doc)
    assert pc.lark_accepts(cb)  # Feishu's own handler takes the very request
    return cb


def lark_lines(post: dict[str, Any]) -> list[str]:
    """lark-oapi's reading of the same content: its text lines (pictures left out)."""
    text, _ = flatten(parse_message_content("post", json.dumps(post, ensure_ascii=False)))
    return [line for line in text.split("\n") if line and not line.startswith("![")]


BARE = {"title": "", "content": [[bot_at(), {"tag": "text", "text": " " + FALL}], [img()]]}


@pytest.mark.parametrize("post", [BARE, {"zh_cn": BARE}], ids=["received", "locale"])
def test_feishu_post_with_a_picture_is_the_request(post: dict[str, Any]) -> None:
    assert lark_lines(post) == [f"@{BOT_NAME} {FALL}"]  # ours: the bot's @ removed
    msg = parse("feishu", feishu_post(post))
    assert isinstance(msg, InboundMessage) and msg.is_group
    assert (msg.text, msg.group_id) == (FALL, CHAT["feishu"])


def test_feishu_post_title_paragraphs_and_links_are_read_in_order() -> None:
    post = {
        "zh_cn": {
            "title": "紧急求助",
            "content": [
                [img()],
                [
                    bot_at(),
                    {"tag": "text", "text": " 5号楼"},
                    {"tag": "emotion", "emoji_type": "SOB"},
                ],
                [{"tag": "a", "text": "有人晕倒了", "href": "https://x"}],
            ],
        }
    }
    lines = lark_lines(post)
    assert lines[0] == "# 紧急求助" and lines[2] == "[有人晕倒了](https://x)"
    msg_text = text_of(parse("feishu", feishu_post(post)))
    assert msg_text == "紧急求助\n5号楼\n有人晕倒了"


@pytest.mark.parametrize(
    "post", [{"title": "", "content": [[img()]]}, {"zh_cn": {"content": [[img()], [img()]]}}]
)
def test_feishu_post_pictures_alone_are_ignored(post: dict[str, Any]) -> None:
    assert lark_lines(post) == []
    got = parse("feishu", feishu_post(post))
    assert isinstance(got, Ignored) and got.what == "feishu post"


# ---------------------------------------------------------------- WeCom one-to-one

# WeCom's documented group-robot text sample, as published: a one-to-one chat with a ChatId.
SINGLE = (
    "<xml><WebhookUrl> <![CDATA[http://in.qyapi.weixin.qq.com/cgi-bin/webhook/send?key=WEBHOOK]]>"
    "</WebhookUrl><MsgId>abcdabcdabcd</MsgId><ChatId><![CDATA[wrkSFfCgAALFgnrSsWU38puiv4yvExuw]]>"
    "</ChatId><ChatType>single</ChatType><From><UserId>zhangsan</UserId>"
    "<Name><![CDATA[张三]]></Name><Alias><![CDATA[jackzhang]]></Alias></From>"
    "<MsgType>text</MsgType><Text><Content><![CDATA[@RobotA hello robot]]></Content></Text></xml>"
)


def test_wecom_one_to_one_chat_with_a_chat_id_is_not_a_group() -> None:
    assert parse_message(SINGLE)._data["ChatType"] == "single"  # as wechatpy reads it
    msg = parse("wecom", pc.wecom_callback(SINGLE))
    assert isinstance(msg, InboundMessage) and not msg.is_group
    assert msg.text == "hello robot"
    group = parse("wecom", pc.wecom_callback(SINGLE.replace(">single<", ">group<")))
    assert isinstance(group, InboundMessage) and group.is_group
    # An app's callback has neither ChatType nor ChatId: a member writing to the app.
    app_text = (
        "<xml><ToUserName>ww1</ToUserName><FromUserName>lisi</FromUserName>"
        "<MsgType>text</MsgType><Content>hello</Content><MsgId>1</MsgId><AgentID>1</AgentID></xml>"
    )
    direct = parse("wecom", pc.wecom_callback(app_text))
    assert isinstance(direct, InboundMessage) and not direct.is_group


def test_wecom_one_to_one_mixed_is_not_a_group_either() -> None:
    xml = mixed(text_item(f"@{BOT_NAME} {FALL}"), IMAGE).replace(">group<", ">single<")
    msg = parse("wecom", pc.wecom_callback(xml))
    assert isinstance(msg, InboundMessage) and not msg.is_group and msg.text == FALL


# ---------------------------------------------------------------- through the route


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def apps(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    async def nothing(*args: Any, **kwargs: Any) -> None: ...

    async def submit(db: Any, **kwargs: Any) -> intake.Submitted:
        return intake.Submitted(claimed=True, earlier=None)

    monkeypatch.setattr(routes, "claim_webhook_id", nothing)  # the replay claim
    monkeypatch.setattr(routes, "release_webhook_id", nothing)
    monkeypatch.setattr(threads, "record", nothing)
    monkeypatch.setattr(intake, "submit", submit)
    out = {}
    for platform, config in PLATFORMS.items():
        bot = BotConfig(
            bot_id="b",
            platform=config,
            communities=frozenset({"comm-p"}),
            groups={CHAT[platform]: GroupPlace(community_id="comm-p", compound_id="c1")},
            rate_per_minute=1e6,
            burst=1e6,
            group_rate_per_minute=1e6,
            group_burst=1e6,
        )
        settings = Settings()
        deps = ApiDeps(settings=settings, sink=sink, bots=BotRegistry.from_list([bot]))
        deps._pool = object()  # only the faked statements use it
        app = create_app(settings, deps)
        app.state.group_replies = Replies()
        out[platform] = app
    return out


async def post(app: Any, platform: str, cb: pc.Callback) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post(
            f"/v1/platforms/{platform}/b", params=cb.query, headers=cb.headers, content=cb.body
        )


def photo_request(platform: str) -> pc.Callback:
    if platform == "wecom":
        return pc.wecom_callback(mixed(text_item(f"@{BOT_NAME} {FALL}"), IMAGE))
    if platform == "dingtalk":
        return dingtalk_rich([{"text": FALL}, PICTURE])[0]
    return feishu_post(BARE)


@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "feishu"])
async def test_a_request_with_a_photo_is_dispatched_with_the_120_advice(
    apps: dict[str, Any], sink: Sink, platform: str
) -> None:
    r = await post(apps[platform], platform, photo_request(platform))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["is_request"] and out["advise_emergency_call"], out
    assert out["emergency_number"] == "120" and "120" in out["reply_text"]
    assert [type(c.body) for c in sink.sent] == [SubmitRequest]
    assert apps[platform].state.group_replies.said[0].startswith("请立即拨打120")


async def test_wecom_one_to_one_chat_is_ignored_not_refused(
    apps: dict[str, Any], sink: Sink
) -> None:
    r = await post(apps["wecom"], "wecom", pc.wecom_callback(SINGLE))
    assert r.status_code == 200, r.text  # 403 unknown_group made WeCom retry three times
    assert r.json() == {"ignored": "not a configured group chat"}
    assert not sink.sent
