"""Post a text into the group a request came from.

DingTalk gives a `sessionWebhook` with each message: used while it is valid and only when
it starts with a configured prefix (it arrives in a request, so it is never trusted as a
URL by itself). A Feishu app with `app_id`/`app_secret` answers the asking message through
the reply API. Otherwise the group's robot from the bots file (`robots`), through the push
channels (each platform's signing); a session webhook that refuses the post falls back to
those. Retries transient failures a few times.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import httpx

from dispatcher.clock import utcnow
from dispatcher.groupchat.bots import BotConfig, BotRegistry
from dispatcher.groupchat.feishu_reply import FeishuReplies
from dispatcher.push.channels import make_channel
from dispatcher.push.channels.base import classify_status, json_body
from dispatcher.push.model import (
    Delivered,
    Delivery,
    DeliveryResult,
    PermanentFailure,
    PushKind,
    PushMessage,
    RetryLater,
)
from dispatcher.record.edge.group_threads import Thread

log = logging.getLogger(__name__)

BACKOFF_S = (0.2, 1.0, 3.0)


def session_webhook_allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    """A prefix match on a URL boundary: "…/sendBySession.evil.com" does not pass."""
    return any(
        url == p or url.startswith(p + "?") or (p.endswith("/") and url.startswith(p))
        for p in prefixes
    )


class GroupSender:
    def __init__(
        self,
        registry: Callable[[], BotRegistry],  # the bots as configured now (live)
        client: httpx.AsyncClient,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._registry = registry
        self._client = client
        self._clock = clock  # the API's (ApiDeps.clock)
        self._feishu = FeishuReplies(client, clock)

    def _session_url(self, bot: BotConfig, thread: Thread, now: datetime) -> str | None:
        url = thread.session_webhook
        if url is None or bot.platform is None:
            return None
        if thread.session_expires is not None and thread.session_expires <= now:
            return None
        if not session_webhook_allowed(url, bot.platform.session_webhook_prefixes):
            log.warning("sessionWebhook outside the configured prefixes: not used")
            return None
        return url

    async def _post_session(self, url: str, text: str) -> DeliveryResult:
        body = {"msgtype": "text", "text": {"content": text}}
        try:
            response = await self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            return RetryLater(type(exc).__name__)
        status = classify_status(response, self._clock())
        if status is not None:
            return status
        doc = json_body(response) or {}
        code = doc.get("errcode", 0)
        return Delivered() if code == 0 else PermanentFailure(f"errcode {code}")

    async def _once(self, bot: BotConfig, thread: Thread, text: str, key: str) -> DeliveryResult:
        url = self._session_url(bot, thread, self._clock())
        if url is not None:
            result = await self._post_session(url, text)
            if not isinstance(result, PermanentFailure):
                return result
            # A session DingTalk no longer takes (an errcode, a 4xx) even before its stated
            # expiry: the group's other channels still reach it.
            log.info("sessionWebhook refused (%s): trying the group's robot", result.reason)
        return await self._without_session(bot, thread, text, key)

    async def _without_session(
        self, bot: BotConfig, thread: Thread, text: str, key: str
    ) -> DeliveryResult:
        if thread.reply_to and bot.platform is not None and FeishuReplies.usable(bot.platform):
            return await self._feishu.reply(bot.platform, thread.reply_to, text, key)
        robot = bot.robots.get(thread.group_id)
        if robot is None:
            return PermanentFailure("no reply channel for this group")
        delivery = Delivery(
            delivery_id=key,
            endpoint=robot.name,
            kind=PushKind.GROUP_UPDATE,
            message=PushMessage(title="邻里互助", text=text),
            data={"request_id": thread.request_id},
        )
        return await make_channel(robot, self._client).send(delivery)

    async def send(self, thread: Thread, text: str, key: str) -> bool:
        bot = self._registry().get(thread.bot_id)
        if bot is None:
            return False
        result: DeliveryResult = PermanentFailure("not tried")
        for wait in (*BACKOFF_S, None):
            result = await self._once(bot, thread, text, key)
            if not isinstance(result, RetryLater) or wait is None:
                break
            await asyncio.sleep(max(wait, min(result.retry_after or 0.0, 10.0)))
        if isinstance(result, Delivered):
            return True
        log.warning("group message to %s/%s not delivered: %s", *thread.key, result)
        return False
