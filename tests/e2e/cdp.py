"""A minimal Chrome DevTools Protocol client over aiohttp's websocket (no extra dependency).

Starts Debian's Chromium headless with a fresh profile, on a debugging port Chromium picks
itself (read back from DevToolsActivePort), and drives one page target.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


# What Chromium answers when an evaluation is caught by a navigation: the document it ran in
# went away (a form submitted, a redirect). Puppeteer's waitForFunction retries on the same
# messages; a probe polling across a navigation means "not there yet", not a failure.
NAVIGATED_AWAY = (
    "Inspected target navigated or closed",
    "Execution context was destroyed",
    "Cannot find context with specified id",
)


class PageNavigatedAway(RuntimeError):
    """The evaluation's document was replaced while it ran."""


def _failure(text: str) -> RuntimeError:
    if any(m in text for m in NAVIGATED_AWAY):
        return PageNavigatedAway(text)
    return RuntimeError(text)


def _real_clock_env() -> dict[str, str]:
    """The environment without deploy/local/midnight.sh's libfaketime preload: the browser
    keeps the real clock, as the broker does (the page's "today" is the server's; its
    session cookie has a Max-Age, no date). Preloaded, Chromium took 70-100 s to sign in
    and load the page instead of 2 s, so the tool's lead no longer placed midnight in the
    part of a test that reads the day."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    async def start(self, binary: str) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        log = open(self.profile.parent / "chromium.log", "wb")  # noqa: SIM115 - child owns it
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_real_clock_env(),
        )
        log.close()
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its debugging port")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        self._session = aiohttp.ClientSession()
        page = await self._first_page(port, time.monotonic() + 30)
        self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.send("Page.enable")
        await self.send("Runtime.enable")

    async def _first_page(self, port: int, deadline: float) -> dict[str, Any]:
        """The initial tab's target. The debugging port opens before Chromium has created
        that tab (on a loaded machine, /json/list can still be empty): ask again until it
        is listed."""
        assert self._session is not None and self.proc is not None
        targets: list[dict[str, Any]] = []
        while True:
            async with self._session.get(f"http://127.0.0.1:{port}/json/list") as r:
                targets = await r.json()
            for target in targets:
                if target.get("type") == "page" and target.get("webSocketDebuggerUrl"):
                    return target
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium listed no page target: {targets!r}")
            await asyncio.sleep(0.1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._ws is not None
        msg_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = await asyncio.wait_for(self._ws.receive(), timeout=30)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"devtools connection closed: {msg.type}")
            doc = json.loads(msg.data)
            if doc.get("id") == msg_id:
                if "error" in doc:
                    raise _failure(f"{method}: {doc['error']}")
                result: dict[str, Any] = doc.get("result", {})
                return result

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise _failure(str(result["exceptionDetails"]))
        return result["result"].get("value")

    async def evaluate_while_navigating(self, expression: str) -> Any:
        """For polls that may run while the page navigates: None when the document was
        replaced mid-evaluation (the next poll sees the new one)."""
        try:
            return await self.evaluate(expression)
        except PageNavigatedAway:
            return None

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
