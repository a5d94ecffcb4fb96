"""Failed staff sign-ins: 10 at once, then `failed_sign_ins_per_minute` (5 by default) a
minute per client address (dispatcher/api/auth.py). In-process, on the limiter's own clock:
no second passes that the test does not move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from dispatcher.api.app import create_app
from dispatcher.api.auth import FAIL_BURST
from dispatcher.api.deps import ApiDeps
from dispatcher.api.ratelimit import RateLimiter
from dispatcher.settings import Settings


class NoSink:
    async def send(self, topic: str, key: str, value: bytes) -> None: ...

    async def check(self) -> None: ...


@asynccontextmanager
async def sign_in(clock: list[float], **settings: float) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose throttle reads the time from `clock[0]`, and a client signing in to its
    dashboard."""
    s = Settings(staff_token="s3cret-staff-token", **settings)  # type: ignore[arg-type]
    limiter = RateLimiter(clock=lambda: clock[0])
    app = create_app(s, ApiDeps(settings=s, sink=NoSink(), limiter=limiter))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 41234))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        yield c


async def guess(c: httpx.AsyncClient) -> int:
    return (await c.post("/dashboard/login", data={"token": "guess"})).status_code


def test_the_default_is_five_a_minute() -> None:
    assert Settings.model_fields["failed_sign_ins_per_minute"].default == 5.0
    assert FAIL_BURST == 10.0


async def test_after_the_burst_one_guess_comes_back_every_twelve_seconds() -> None:
    clock = [1000.0]
    async with sign_in(clock) as c:
        assert [await guess(c) for _ in range(int(FAIL_BURST) + 1)] == [401] * 10 + [429]
        clock[0] += 11.99
        assert await guess(c) == 429
        clock[0] += 0.02  # 12 s after the burst was spent: one guess back (60 s / 5)
        assert [await guess(c), await guess(c)] == [401, 429]


async def test_the_rate_is_the_setting() -> None:
    clock = [1000.0]
    async with sign_in(clock, failed_sign_ins_per_minute=0.01) as c:  # one in 100 minutes
        assert [await guess(c) for _ in range(int(FAIL_BURST) + 1)] == [401] * 10 + [429]
        clock[0] += 60 * 99
        assert await guess(c) == 429
        clock[0] += 60 * 2
        assert [await guess(c), await guess(c)] == [401, 429]
