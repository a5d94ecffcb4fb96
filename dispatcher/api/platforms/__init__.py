"""Inbound adapters for chat platforms (WeCom, DingTalk, Feishu) behind one interface
(`base.PlatformAdapter`), feeding the same chat-message intake as `POST /v1/messages`."""

from __future__ import annotations

from dispatcher.api.platforms.base import PlatformAdapter
from dispatcher.api.platforms.dingtalk import DingTalkAdapter
from dispatcher.api.platforms.feishu import FeishuAdapter
from dispatcher.api.platforms.wecom import WeComAdapter

ADAPTERS: dict[str, PlatformAdapter] = {
    a.name: a for a in (WeComAdapter(), DingTalkAdapter(), FeishuAdapter())
}

__all__ = ["ADAPTERS", "PlatformAdapter"]
