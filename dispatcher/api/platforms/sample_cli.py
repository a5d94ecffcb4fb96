"""`python -m dispatcher platform-sample`: a correctly signed (and encrypted) platform
callback for the dev bots of `make run`, printed as a curl command or sent at once."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import uuid

import httpx

from dispatcher.api.platforms import crypto, dingtalk, feishu, wecom
from dispatcher.clock import utcnow
from dispatcher.groupchat import dev_bots as dev

Built = tuple[dict[str, str], dict[str, str], bytes]  # query, headers, body


def build_wecom(text: str, group: str, sender: str, msg_id: str) -> Built:
    xml = (
        f"<xml><ChatId><![CDATA[{group}]]></ChatId><From><UserId><![CDATA[{sender}]]></UserId>"
        f"</From><MsgType><![CDATA[text]]></MsgType><Text><Content><![CDATA[{text}]]>"
        f"</Content></Text><MsgId><![CDATA[{msg_id}]]></MsgId><ChatType>group</ChatType></xml>"
    )
    encrypted = crypto.wecom_encrypt(dev.DEV_WECOM_AES_KEY, xml, dev.DEV_WECOM_CORP)
    ts, nonce = str(int(utcnow().timestamp())), uuid.uuid4().hex[:10]
    query = {
        "msg_signature": wecom.signature(dev.DEV_WECOM_TOKEN, ts, nonce, encrypted),
        "timestamp": ts,
        "nonce": nonce,
    }
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    return query, {"content-type": "text/xml"}, body


def build_dingtalk(text: str, group: str, sender: str, msg_id: str) -> Built:
    doc = {
        "msgtype": "text",
        "text": {"content": text},
        "msgId": msg_id,
        "conversationId": group,
        "conversationType": "2",
        "senderStaffId": sender,
        "senderNick": "住户",
    }
    ts = str(int(utcnow().timestamp() * 1000))
    headers = {
        "content-type": "application/json",
        "timestamp": ts,
        "sign": dingtalk.sign(dev.DEV_DINGTALK_SECRET, ts),
    }
    return {}, headers, json.dumps(doc, ensure_ascii=False).encode()


def build_feishu(text: str, group: str, sender: str, msg_id: str) -> Built:
    event = {
        "schema": "2.0",
        "header": {
            "event_id": f"ev-{msg_id}",
            "event_type": "im.message.receive_v1",
            "token": dev.DEV_FEISHU_TOKEN,
        },
        "event": {
            "sender": {"sender_id": {"open_id": sender}},
            "message": {
                "message_id": msg_id,
                "chat_id": group,
                "chat_type": "group",
                "message_type": "text",
                "content": json.dumps({"text": text}, ensure_ascii=False),
            },
        },
    }
    plain = json.dumps(event, ensure_ascii=False)
    body = json.dumps({"encrypt": crypto.feishu_encrypt(dev.DEV_FEISHU_KEY, plain)}).encode()
    ts, nonce = str(int(utcnow().timestamp())), uuid.uuid4().hex[:12]
    headers = {
        "content-type": "application/json",
        "x-lark-request-timestamp": ts,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": feishu.signature(ts, nonce, dev.DEV_FEISHU_KEY, body),
    }
    return {}, headers, body


BUILDERS = {"wecom": build_wecom, "dingtalk": build_dingtalk, "feishu": build_feishu}


def curl(url: str, headers: dict[str, str], body: bytes) -> str:
    parts = ["curl", "-sS", "-X", "POST", shlex.quote(url)]
    for k, v in headers.items():
        parts += ["-H", shlex.quote(f"{k}: {v}")]
    parts += ["--data-binary", shlex.quote(body.decode())]
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m dispatcher platform-sample",
        description=(
            "Build a signed/encrypted callback as WeCom, DingTalk or Feishu would send it to the "
            "dev bots of `make run` (dev-wecom, dev-dingtalk, dev-feishu) and print it as a curl "
            "command, or --send it. Dev credentials only (dispatcher/groupchat/dev_bots.py)."
        ),
    )
    ap.add_argument("platform", choices=sorted(BUILDERS))
    ap.add_argument("text", nargs="?", default="3号楼有老人摔倒了起不来，快来人帮忙")
    ap.add_argument("--group", default="demo-zhonghua-c11", help="a demo district group id")
    ap.add_argument("--sender", default="resident-1", help="the sender's platform user id")
    ap.add_argument("--message-id", default=None, help="default: a new one (a retry reuses it)")
    ap.add_argument("--api", default="http://127.0.0.1:8080")
    ap.add_argument("--send", action="store_true", help="post it and print the answer")
    args = ap.parse_args(argv)
    msg_id = args.message_id or f"dev-{uuid.uuid4().hex[:16]}"
    query, headers, body = BUILDERS[args.platform](args.text, args.group, args.sender, msg_id)
    url = str(
        httpx.URL(
            f"{args.api.rstrip('/')}/v1/platforms/{args.platform}/dev-{args.platform}"
        ).copy_merge_params(query)
    )
    if not args.send:
        print(curl(url, headers, body))
        return 0
    r = httpx.post(url, headers=headers, content=body, timeout=10)
    print(r.status_code, r.text)
    sys.stdout.flush()
    return 0 if r.status_code < 400 else 1
