"""A chat-group bot as the API sees one: Standard Webhooks signatures, computed here
independently of the API's own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

from dispatcher.testing.stack import Bot

BOT_ID = "test-bot"
BOT_SECRET = "whsec_" + base64.b64encode(b"integration-test-bot-secret-0123456789").decode()


TEST_BOT = Bot(BOT_ID, BOT_SECRET)


def bots_file_doc(communities: set[str]) -> dict[str, Any]:
    return TEST_BOT.bots_file_doc(communities)


def sign(
    body: bytes,
    *,
    secret: str = BOT_SECRET,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def bound_payload(method: str, target: str, body: bytes) -> bytes:
    """What the API wants signed: method and target, a newline, the body (so a signature
    is good for one route only). Written here from the README, not imported from the API."""
    return f"{method} {target}\n".encode() + body


class BotClient:
    """POST/GET as the test bot; every call freshly signed."""

    def __init__(self, client: httpx.AsyncClient, bot_id: str = BOT_ID) -> None:
        self.client = client
        self.bot_id = bot_id

    async def post(self, path: str, payload: Any, **headers: str) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        signed = sign(bound_payload("POST", path, body))
        h = {"content-type": "application/json", "x-bot-id": self.bot_id, **signed, **headers}
        return await self.client.post(path, content=body, headers=h)

    async def get(self, path: str) -> httpx.Response:
        signed = sign(bound_payload("GET", path, b""))
        return await self.client.get(path, headers={"x-bot-id": self.bot_id, **signed})
