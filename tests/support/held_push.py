"""A notify agent's push held by a refusing endpoint while the world moves on, then let
through: what the engine's `still_wanted` hook lets out after a retry (unit tests, no I/O:
the endpoint is an httpx mock transport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from dispatcher.push import Deliverer, EngineConfig, RetryPolicy
from schemas.events import Event
from streams.notify import Notifier


class Refusing:
    """Answers `status` until `recover()`, then 200; records each call."""

    def __init__(self, status: int = 503) -> None:
        self.status = status
        self.calls: list[httpx.Request] = []
        self.refused = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.status != 200:
            self.refused.set()
        return httpx.Response(self.status)

    def recover(self) -> None:
        self.status = 200


async def held_then_let_through(
    n: Notifier,
    endpoint: Refusing,
    record: Any,
    event: Event,
    meanwhile: Callable[[], None],
    retry: RetryPolicy,
) -> int:
    """Push `event` through `n` into `endpoint` (refusing), check its record waits, run
    `meanwhile`, let the endpoint recover and drain. Returns the calls made before the
    recovery (equal to the calls after: nothing was sent once it recovered)."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    n._deliverer = Deliverer(
        n.registry,
        on_delivered=n._delivered,
        on_permanent_failure=n._failed,
        client=client,
        config=EngineConfig(retry=retry, lasting_retry=retry),
        rand=lambda: 0.0,
        still_wanted=n.still_wanted,
        on_withdrawn=n._withdrawn,
    )
    try:
        await n.handle(record, event, 0)
        async with asyncio.timeout(5):
            await endpoint.refused.wait()
        assert record.acks == 0  # retried: its record waits
        meanwhile()
        endpoint.recover()
        refused = len(endpoint.calls)
        assert await n._deliverer.drain(5)
    finally:
        await n._deliverer.aclose()
        await client.aclose()
    return refused
