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
        super().__init__(
            413, {"reason": "body_too_large", "message": f"the body is larger than {limit} bytes"}
        )


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
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await reply(send, 400, "bad_content_length", "Content-Length must be a number")
                return
            if int(declared) > limit:
                await _too_large(send, limit)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    await reply(send, 413, "body_too_large", f"the body is larger than {limit} bytes")


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
