"""WeCom's robot @mention is removed from a group message, but the strip never swallows the
message: "@互助机器人救命！3号楼着火了" (no space after the name) was read as "" and answered
`is_request: false`, so a fire went unreported. Only a name-length run ended by whitespace
(WeCom's sample "@RobotA hello robot", U+2005 in its clients) is a mention; when nothing would
be left the whole text is read. XML (app / group robot) and JSON (smart robot) alike.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from pydantic import SecretStr

from dispatcher.api.platforms import ADAPTERS
from dispatcher.api.platforms.base import CallbackRequest, InboundMessage
from dispatcher.classify import classify
from dispatcher.groupchat.bots import PlatformConfig
from tests.support import platform_callbacks as pc

APP = PlatformConfig(
    kind="wecom",
    token=SecretStr(pc.WECOM_TOKEN),
    encoding_aes_key=SecretStr(pc.WECOM_AES_KEY),
    receive_id=pc.WECOM_CORP,
)
ROBOT = APP.model_copy(update={"receive_id": ""})  # the smart robot has no CorpID


def xml_text(content: str) -> pc.Callback:
    return pc.wecom_callback(
        f"<xml><MsgId>{uuid.uuid4().hex}</MsgId><ChatId>wrkGroup</ChatId><ChatType>group"
        "</ChatType><From><UserId>zhangsan</UserId></From><MsgType>text</MsgType>"
        f"<Text><Content><![CDATA[{content}]]></Content></Text></xml>"
    )


def json_text(content: str) -> pc.Callback:
    doc = {
        "msgid": uuid.uuid4().hex,
        "chatid": "wrkGroup",
        "chattype": "group",
        "from": {"userid": "lisi"},
        "msgtype": "text",
        "text": {"content": content},
    }
    cb = pc.wecom_callback(json.dumps(doc, ensure_ascii=False), corp="")
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", cb.body.decode())
    assert encrypted is not None
    return pc.Callback(query=cb.query, body=json.dumps({"encrypt": encrypted[1]}).encode())


def text_read(content: str, shape: str) -> str:
    cb, config = (xml_text(content), APP) if shape == "xml" else (json_text(content), ROBOT)
    req = CallbackRequest("POST", cb.query, cb.headers, cb.body)
    got = ADAPTERS["wecom"].parse(config, req, time.time())
    assert isinstance(got, InboundMessage), got
    return got.text


SHAPES = pytest.mark.parametrize("shape", ["xml", "json"])


@SHAPES
def test_a_mention_run_into_the_text_is_not_swallowed(shape: str) -> None:
    text = text_read("@互助机器人救命！3号楼着火了", shape)
    assert "3号楼着火了" in text
    found = classify(text)
    assert found.is_request and found.emergency_number is not None
    assert found.emergency_number.value == "119"


@SHAPES
@pytest.mark.parametrize("space", [" ", "\u2005", "\u3000"])
def test_the_mention_before_whitespace_is_removed(shape: str, space: str) -> None:
    assert text_read(f"@互助机器人{space}5号楼有人晕倒了", shape) == "5号楼有人晕倒了"
    assert text_read("@RobotA hello robot", shape) == "hello robot"  # WeCom's own sample


@SHAPES
def test_a_mention_alone_is_read_whole_not_emptied(shape: str) -> None:
    assert text_read("@互助机器人", shape) == "@互助机器人"


@SHAPES
def test_no_more_than_a_name_is_taken_for_a_mention(shape: str) -> None:
    long = "@" + "着火了快来人" * 5 + " 谢谢"
    assert text_read(long, shape) == long
