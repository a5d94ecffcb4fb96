"""One channel per platform behind `Channel.send(delivery) -> DeliveryResult`."""

from __future__ import annotations

import time

import httpx

from dispatcher.push.channels.base import Channel, HttpChannel, WallClock
from dispatcher.push.channels.dingtalk import DingTalkChannel
from dispatcher.push.channels.feishu import FeishuChannel
from dispatcher.push.channels.webhook import WebhookChannel
from dispatcher.push.channels.wecom import WeComChannel
from dispatcher.push.endpoints import EndpointConfig, EndpointKind

CHANNEL_TYPES: dict[EndpointKind, type[HttpChannel]] = {
    EndpointKind.WEBHOOK: WebhookChannel,
    EndpointKind.WECOM: WeComChannel,
    EndpointKind.DINGTALK: DingTalkChannel,
    EndpointKind.FEISHU: FeishuChannel,
}


def make_channel(
    endpoint: EndpointConfig, client: httpx.AsyncClient, wall_clock: WallClock = time.time
) -> Channel:
    return CHANNEL_TYPES[endpoint.kind](endpoint, client, wall_clock)


__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "DingTalkChannel",
    "FeishuChannel",
    "HttpChannel",
    "WallClock",
    "WeComChannel",
    "WebhookChannel",
    "make_channel",
]
