"""413 for bodies over the limit, whether announced by Content-Length or streamed chunked.

Pure ASGI middleware: it counts bytes as the app reads them, so an oversized upload is cut
off without being buffered. Routes may allow more (roster files) via `larger`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body reader passes it on unchanged (→ 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, {"reason": "body_too_large", "message": _too_large_text(limit)})


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int, larger: Callable[[str], int | None]) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger  # path → a larger limit for that route, or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger(scope["path"]) or self.limit
        refusal = declared_refusal(scope, limit)
        if refusal is not None:
            await reply(send, *refusal)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting(receive, limit), tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


def declared_refusal(scope: Scope, limit: int) -> tuple[int, str, str] | None:
    """The answer to a declared Content-Length that is not a number (400) or over `limit`
    (413), as `reply`'s arguments; None if it may come in."""
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        return 400, "bad_content_length", "Content-Length must be a number"
    # Length first: `int` refuses over 4,300 digits (a ValueError, a 500), and any number
    # with more digits than the limit (leading zeros aside) is over it anyway.
    significant = declared.lstrip(b"0")
    if len(significant) > len(str(limit)) or int(significant or b"0") > limit:
        return 413, "body_too_large", _too_large_text(limit)
    return None


def counting(receive: Receive, limit: int) -> Receive:
    """`receive`, raising `BodyTooLarge` once more than `limit` body bytes came in."""
    seen = 0

    async def counting_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counting_receive


async def _too_large(send: Send, limit: int) -> None:
    await reply(send, 413, "body_too_large", _too_large_text(limit))


def _too_large_text(limit: int) -> str:
    return f"the body is larger than {limit} bytes"


async def reply(send: Send, status: int, reason: str, message: str) -> None:
    body = json.dumps({"detail": {"reason": reason, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
