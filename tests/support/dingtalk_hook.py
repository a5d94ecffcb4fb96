"""DingTalk's sessionWebhook on a loopback port (a real HTTP server): what the API posted to
the group, read where no PostgreSQL can be asked (the API's own may be out of reach)."""

from __future__ import annotations

import asyncio
import contextlib
import json


class Hook:
    """DingTalk's sessionWebhook on a loopback port: what was posted to the group."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def heard(self, at_least: int = 1) -> list[str] | None:
        return self.said if len(self.said) >= at_least else None

    async def __aenter__(self) -> Hook:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/dt"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode().split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.said.append(json.loads(body)["text"]["content"])
                answer = b'{"errcode":0,"errmsg":"ok"}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
                await writer.drain()
        writer.close()
