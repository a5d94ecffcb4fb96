"""PostgreSQL's edge statements faked for unit tests of the platform route
(tests/support/dingtalk_app.py): the sender has one open request, every claim is new,
nothing is stored or dropped; and a group member's message sent through it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from dispatcher.api.platforms import routes
from dispatcher.record.edge import bot_calls, intake
from dispatcher.record.edge import group_threads as threads
from tests.support.dingtalk_app import group_message, post_callback


def fake_edge(
    monkeypatch: pytest.MonkeyPatch,
    open_request: str,
    categories: Mapping[str, str] | None = None,
) -> None:
    """The sender's one open request is `open_request`; each message and each closing
    reply is new (its replay claim and idempotency key claimed); nothing is recorded.
    `categories`: the open requests' categories the route reads (`routes.categories_of`,
    which decides what a keep reply keeps); none known by default."""

    async def open_requests_of(pool: Any, bot_id: str, group_id: str, sender: str) -> list[str]:
        return [open_request]

    async def nothing(*args: Any, **kwargs: Any) -> None: ...

    async def claimed(*args: Any, **kwargs: Any) -> bool:
        return True  # each message's closing reply is new here

    async def categories_of(pool: Any, request_ids: list[str]) -> dict[str, str]:
        known = categories or {}
        return {r: known[r] for r in request_ids if r in known}

    async def submit(db: Any, **kwargs: Any) -> intake.Submitted:
        return intake.Submitted(claimed=True, earlier=None)

    monkeypatch.setattr(threads, "open_requests_of", open_requests_of)
    monkeypatch.setattr(threads, "record", nothing)
    monkeypatch.setattr(threads, "forget", nothing)  # a reply ending several drops threads
    monkeypatch.setattr(routes, "claim_webhook_id", nothing)  # the replay claim
    monkeypatch.setattr(routes, "categories_of", categories_of)
    monkeypatch.setattr(intake, "submit", submit)
    monkeypatch.setattr(bot_calls, "claim_key", claimed)  # the reply's idempotency key
    monkeypatch.setattr(bot_calls, "store_answer", nothing)


async def say(app: Any, bot: str, group: str, text: str) -> httpx.Response:
    """`text` from a member of `group` (a new message id), through `bot`'s callback."""
    return await post_callback(app, bot, group_message(text, f"m-{uuid.uuid4().hex[:12]}", group))
