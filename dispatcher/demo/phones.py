"""Simulated volunteers' phones for the demo: a local HTTP push receiver standing in for the
push relay that would wake each helper's phone, and one browser per helper answering through
the signed links in the push, as a person would.

How the worker reaches them: the demo district's helpers are reached through the push
endpoint named `default` (their channel `webhook:default`). `make run` (dev mode) sets
DISPATCH_PUSH_ENDPOINTS, unless already set, to `push_endpoints()`: that endpoint at
http://127.0.0.1:8089/phones and each demo community's group robot
(`community-<id>`, the whistle) at /groups/<id>, all signed with a dev-only secret
(`python -m dispatcher demo --push-endpoints` prints the JSON). The worker reads it once at
start, so the phones' port is fixed; the demo starts the receiver on it.

Each push is checked (Standard Webhooks signature, dev secret) and deduplicated by its
webhook-id, as a relay would. An offer's phone answers after a human-like delay (multiplied
by the time scale): it opens the accept or decline link (a confirmation page: opening never
acts), presses the page's button (POST), and reads the answer page - "please go" with the
contact, "a neighbour already took it", "recorded", "expired", …; while the page says it is
still confirming, it reloads as the page asks. A phone whose page said "assigned" then
presses that page's own buttons, as the helper would: 我在路上 (on my way), and after the
help 已完成 (done) with the minutes it took; when every assigned helper is done the request
resolves by them. No Kafka: only HTTP, as a phone would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import random
import re
import socket
import time
from collections import Counter
from typing import Any
from urllib.parse import urljoin

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dispatcher.clock import utcnow
from dispatcher.demo.trace import Answer, Background, Board
from dispatcher.numbers import MAX_EPOCH_S, NotANumber, parse_int
from dispatcher.ops.demo_district import COMMUNITIES
from dispatcher.push.deliveries import community_group_endpoint
from dispatcher.push.signing import sign, webhook_secret_bytes

DEFAULT_PORT = 8089
# Dev only: `make run` runs in dev mode; production refuses "dev-only" secrets.
PUSH_SECRET = "whsec_" + base64.b64encode(b"dev-only-demo-phones-push-secret").decode()
PHONES_PATH = "/phones"

_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_FORM = re.compile(r'<form method="post" action="([^"]+)"')
_REFRESH = re.compile(r'http-equiv="refresh" content="(\d+)"')
ON_WAY_AFTER_S = 5.0  # from "assigned" to pressing 我在路上 (× time scale)
DONE_AFTER_S = 30.0  # from 我在路上 to 已完成 (× time scale)
MINUTES_SPENT = (15, 20, 30, 45, 60)  # what a helper says the help took
# What each answer page says (dispatcher/api/offer_pages.py, pages.py), as one word.
PAGE_OUTCOMES = {
    "谢谢您！请前往帮忙": "assigned",
    "谢谢您！请尽快致电": "assigned",  # a remote helper: asked to call, not to come
    "谢谢您！请在群内联系": "assigned",  # a remote helper of a requester without a phone
    "谢谢您！请联系社区工作人员": "assigned",  # a remote helper of one who asked in no group
    "谢谢您！": "assigned, since closed",
    "已有邻居接下": "assigned (other device)",
    "已有邻居接手": "covered",
    "已记录": "declined",
    "求助已结束": "closed",
    "无需操作": "not needed",
    "无法处理": "refused",
    "链接已过期": "expired",
    "链接无效": "invalid link",
    "暂时无法提交": "busy",
    "链接已在另一部手机上打开": "refused (link bound to another device)",
}
MAX_RELOADS = 30
STOP_GRACE_S = 60.0  # answers under way when the demo stops: each is a few HTTP calls


def push_endpoints(port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> list[dict[str, str]]:
    """DISPATCH_PUSH_ENDPOINTS for a worker whose offers go to the demo's phones."""
    base = f"http://{host}:{port}"
    endpoints = [
        {"name": "default", "kind": "webhook", "url": base + PHONES_PATH, "secret": PUSH_SECRET}
    ]
    for community, _ in COMMUNITIES:
        endpoints.append(
            {
                "name": community_group_endpoint(community),
                "kind": "webhook",
                "url": f"{base}/groups/{community}",
                "secret": PUSH_SECRET,
            }
        )
    return endpoints


def persona(seed: int, helper_id: str) -> tuple[str, float]:
    """(accept | decline, delay in unscaled seconds), stable per helper. A quarter see the
    push late (a minute and a half to five minutes): the ladder moves on without them, and
    their link may by then say the request is covered or closed."""
    digest = hashlib.sha256(f"{seed}:{helper_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    if "-pair-" in helper_id:  # the paired neighbour who left her number: answers at once
        return "accept", rng.uniform(3, 8)
    roll = rng.random()
    if roll < 0.5:
        return "accept", rng.uniform(8, 60)
    if roll < 0.75:
        return "decline", rng.uniform(5, 30)
    return "accept", rng.uniform(90, 300)


def page_outcome(r: httpx.Response) -> str:
    title = _TITLE.search(r.text)
    text = html.unescape(title.group(1)) if title else ""
    return PAGE_OUTCOMES.get(text, f"page {r.status_code} {text!r}")


def signature_ok(key: bytes, headers: Any, body: bytes) -> bool:
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    try:
        when = parse_int(ts, "webhook-timestamp", lo=0, hi=MAX_EPOCH_S)
    except NotANumber:
        return False
    if not msg_id or abs(utcnow().timestamp() - when) > 300:
        return False
    expected = sign(key, msg_id, when, body)
    given = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, g) for g in given)


class Phones:
    def __init__(
        self,
        board: Board,
        *,
        seed: int,
        scale: float,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
    ) -> None:
        self.board = board
        self.seed = seed
        self.scale = scale
        self.host = host
        self.port = port
        self.key = webhook_secret_bytes(PUSH_SECRET)
        self.answers: Counter[str] = Counter()  # accept | decline | unanswered
        self.pushes = 0
        self.refused = 0  # pushes with a bad signature
        self.duplicates = 0  # retries of a push already received
        self._seen: set[str] = set()
        self._devices: dict[str, httpx.AsyncClient] = {}
        self._answering = Background()
        self._closing = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(
                f"the phones' port {self.host}:{self.port} is taken ({exc.strerror}): "
                "is another demo running?"
            ) from exc
        app = Starlette(
            routes=[
                Route(PHONES_PATH, self._phone_push, methods=["POST"]),
                Route("/groups/{community}", self._group_push, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises why it stopped
                raise RuntimeError("the phones' receiver stopped at start")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Phones still waiting to answer never will; one already answering finishes (cut
        off between its POST and its page, it would have acted without anyone knowing)."""
        self._closing.set()
        try:
            await asyncio.wait_for(self._answering.wait(), STOP_GRACE_S)
        except TimeoutError:
            await self._answering.cancel()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._serving
        for device in self._devices.values():
            await device.aclose()

    # ------------------------------------------------------------ pushes
    async def _received(self, request: Request) -> dict[str, Any] | JSONResponse:
        body = await request.body()
        if not signature_ok(self.key, request.headers, body):
            self.refused += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        msg_id = request.headers["webhook-id"]
        if msg_id in self._seen:  # a retry: answered 200, acted on once
            self.duplicates += 1
            return JSONResponse({"ok": True, "duplicate": True})
        self._seen.add(msg_id)
        self.pushes += 1
        data: dict[str, Any] = (await request.json()).get("data", {})
        return data

    async def _phone_push(self, request: Request) -> JSONResponse:
        data = await self._received(request)
        if isinstance(data, JSONResponse):
            return data
        kind, helper = str(data.get("kind")), str(data.get("recipient"))
        request_id = str(data.get("request_id", ""))
        self.board.pushed(request_id, kind, helper, str(data.get("offer_id", "")))
        if kind == "offer" and data.get("accept_url"):
            self._answering.spawn(self._answer(request_id, helper, data))
        return JSONResponse({"ok": True})

    async def _group_push(self, request: Request) -> JSONResponse:
        data = await self._received(request)
        if isinstance(data, JSONResponse):
            return data
        self.board.whistle(request.path_params["community"], str(data.get("request_id", "")))
        return JSONResponse({"ok": True})

    # ------------------------------------------------------------ a person answering
    def _device(self, helper: str) -> httpx.AsyncClient:
        """One browser per helper: its cookies (the accepted page's view cookie) stay on it."""
        if helper not in self._devices:
            self._devices[helper] = httpx.AsyncClient(timeout=15)
        return self._devices[helper]

    async def _answer(self, request_id: str, helper: str, data: dict[str, Any]) -> None:
        action, delay = persona(self.seed, helper)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay * self.scale)
        if self._closing.is_set():
            self.answers["unanswered when the demo stopped"] += 1
            return
        link = str(data[f"{action}_url"])
        device = self._device(helper)
        tapped_at = time.monotonic()
        try:
            page = await device.get(link)  # the confirmation page
            form = _FORM.search(page.text)
            if form is not None:
                target = urljoin(link, html.unescape(form.group(1)))
                page = await device.post(target)  # the page's one button
                for _ in range(MAX_RELOADS):  # "confirming…": reload as the page asks
                    refresh = _REFRESH.search(page.text)
                    if page.status_code != 202 or refresh is None:
                        break
                    await asyncio.sleep(int(refresh.group(1)))
                    page = await device.get(target)
            outcome = page_outcome(page)
        except httpx.HTTPError as exc:
            outcome = f"no answer from the API ({type(exc).__name__})"
        self.answers[action] += 1
        self.board.answered(
            request_id, Answer(helper, action, outcome, tapped_at, time.monotonic())
        )
        if action == "accept" and outcome == "assigned":
            self._answering.spawn(self._help(request_id, helper, link, page.text))

    async def _help(self, request_id: str, helper: str, link: str, page: str) -> None:
        """The assigned helper's page buttons: on my way, then done with the minutes."""
        minutes = random.Random(f"{self.seed}:{helper}:{request_id}").choice(MINUTES_SPENT)
        device = self._device(helper)
        for step, wait_s, form in (
            ("on-my-way", ON_WAY_AFTER_S, None),
            ("done", DONE_AFTER_S, {"minutes": str(minutes)}),
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), wait_s * self.scale)
            if self._closing.is_set():
                return
            button = re.search(rf'action="([^"]+/p/{step})"', page)
            if button is None:  # withdrawn, or the request closed meanwhile
                self.board.pressed(request_id, helper, step, None, "no such button")
                return
            try:
                answer = await device.post(urljoin(link, html.unescape(button[1])), data=form)
            except httpx.HTTPError as exc:
                self.board.pressed(request_id, helper, step, None, type(exc).__name__)
                return
            page = answer.text
            said = "ok" if answer.status_code == 200 else f"HTTP {answer.status_code}"
            self.board.pressed(request_id, helper, step, minutes if form else None, said)
