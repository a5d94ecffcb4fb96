"""The demo's chat-group bot: `dev-bot` (api/dev_bots.py, dev mode only) relaying group
messages to the signed bot API, exactly as a deployed bot does: every call signed (Standard
Webhooks over method, path and body) with a fresh webhook-id; a 429 is waited out and sent
again, newly signed (the message id keeps it from dispatching twice)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from dispatcher.api.webhook_signature import bound_payload, signed_headers
from dispatcher.demo.stories import ChatLine
from dispatcher.groupchat.bots import DEV_BOT, DEV_BOT_SECRET
from dispatcher.push.signing import webhook_secret_bytes

MAX_TRIES = 8


class DevBot:
    def __init__(
        self, api: httpx.AsyncClient, bot_id: str = DEV_BOT.bot_id, secret: str = DEV_BOT_SECRET
    ) -> None:
        self.api = api
        self.bot_id = bot_id
        self.key = webhook_secret_bytes(secret)
        self.waited_s = 0.0  # time spent waiting out rate limits

    async def _post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        for _ in range(MAX_TRIES):
            headers = {
                "content-type": "application/json",
                "x-bot-id": self.bot_id,
                **signed_headers([self.key], bound_payload("POST", path, body)),
            }
            r = await self.api.post(path, content=body, headers=headers)
            if r.status_code != 429:
                return r
            wait = float(r.headers.get("retry-after", "1"))
            self.waited_s += wait
            await asyncio.sleep(wait)
        return r

    async def relay(self, line: ChatLine, message_id: str) -> dict[str, Any]:
        """POST /v1/messages: the classifier's verdict, and the request when it is one."""
        r = await self._post(
            "/v1/messages",
            {
                "group_id": line.group_id,
                "message_id": message_id,
                "sender": {"id": line.sender_id, "name": line.sender_name},
                "text": line.text,
            },
        )
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out
