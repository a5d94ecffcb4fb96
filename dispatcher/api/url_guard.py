"""400 for a URL whose path or query holds the NUL character (U+0000).

PostgreSQL's text cannot hold it: a NUL in a query parameter reached the config history's
query and came back as a 500 (the API fuzz test found it). Bodies are refused per field
(api/models.py); URLs are refused here, once, before any route reads them.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from dispatcher.api.body_limit import reply


def holds_nul(path: str, query_string: bytes) -> bool:
    return "\x00" in path or b"\x00" in unquote_to_bytes(query_string)


class UrlGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and holds_nul(scope["path"], scope.get("query_string", b"")):
            await reply(send, 400, "nul_in_url", "the URL must not contain NUL (%00)")
            return
        await self.app(scope, receive, send)
