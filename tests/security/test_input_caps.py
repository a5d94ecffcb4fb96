"""Finding 5, the API edge's share (the classifier's and the XLSX parser's own bounds are
issues 15 and 14): oversized input is refused before any work, announced or streamed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from dispatcher.testing.stack import LocalStack
from tests.support.bot import BotClient, bound_payload, sign

LIMIT = 256 * 1024  # DISPATCH_MAX_BODY_BYTES' default


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


async def test_oversized_input_is_refused_at_the_edge(stack: LocalStack) -> None:
    stack.bot_communities.add("sec-caps")
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        # Announced by Content-Length: refused before reading.
        big = b"{" + b" " * LIMIT + b"}"
        r = await client.post(
            "/v1/messages",
            content=big,
            headers={"x-bot-id": "test-bot", **sign(bound_payload("POST", "/v1/messages", big))},
        )
        assert r.status_code == 413 and r.json()["detail"]["reason"] == "body_too_large"
        # Streamed without a length: cut off once past the limit.
        r = await client.post("/v1/messages", content=chunks(4 * LIMIT))
        assert r.status_code == 413
        # The sign-in form is no way around it.
        r = await client.post(
            "/dashboard/login",
            content=b"token=" + b"x" * (2 * LIMIT),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 413
        # A chat message longer than 2,000 characters is refused with a reason, not classified.
        message = {
            "group_id": "grid-1-group",
            "message_id": "m-long",
            "sender": {"id": "u1"},
            "text": "1" * 2001,
        }
        r = await BotClient(client).post("/v1/messages", message)
        assert r.status_code == 422, r.text
        assert "2000" in json.dumps(r.json())
