"""The API in-process with one DingTalk group bot, for unit tests of the platform route:
callbacks signed as DingTalk signs them (tests/support/platform_callbacks.py), the commands
that would go to Kafka and the group replies recorded. PostgreSQL's edge statements are
the test's own fakes (monkeypatched): the pool handed to the app is a placeholder."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.ratelimit import RateLimiter
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace, PlatformConfig
from dispatcher.settings import Settings
from schemas.commands import Command
from tests.support import platform_callbacks as pc
from tests.support.in_process import api_client


class CommandSink:
    """Records each command the API would produce (into `sent`, or the list given)."""

    def __init__(self, sent: list[Command] | None = None) -> None:
        self.sent: list[Command] = [] if sent is None else sent

    async def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append(Command.model_validate_json(value))


class Replies:
    """The group replies: what the API says at once, recorded; nothing else."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def expect(self, thread: Any) -> None: ...

    def release(self, thread: Any) -> None: ...

    async def immediate(self, thread: Any, text: str, message_id: str) -> None:
        self.said.append(text)


def dingtalk_bot(
    bot_id: str,
    group: str,
    community: str,
    *,
    group_rate_per_minute: float = 1e6,
    group_burst: float = 1e6,
) -> BotConfig:
    """A bot in one group of `community`; only the group's limit is tight if asked."""
    return BotConfig(
        bot_id=bot_id,
        platform=PlatformConfig(kind="dingtalk", app_secret=SecretStr(pc.DINGTALK_SECRET)),
        communities=frozenset({community}),
        groups={group: GroupPlace(community_id=community, grid_id="g1", compound_id="c1")},
        rate_per_minute=1e6,
        burst=1e6,
        group_rate_per_minute=group_rate_per_minute,
        group_burst=group_burst,
    )


def bot_app(bot: BotConfig, sink: CommandSink, limiter: RateLimiter | None = None) -> FastAPI:
    settings = Settings()
    deps = ApiDeps(
        settings=settings,
        sink=sink,
        bots=BotRegistry.from_list([bot]),
        limiter=limiter or RateLimiter(),
    )
    deps._pool = object()  # only the faked statements use it
    app = create_app(settings, deps)
    app.state.group_replies = Replies()
    return app


def group_message(text: str, message_id: str, group: str) -> pc.Callback:
    return pc.dingtalk_callback(pc.dingtalk_body(text, message_id, conversation=group))


async def post_callback(app: FastAPI, bot_id: str, cb: pc.Callback) -> httpx.Response:
    async with api_client(app) as client:
        return await client.post(
            f"/v1/platforms/dingtalk/{bot_id}", headers=cb.headers, content=cb.body
        )
