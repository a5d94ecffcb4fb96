"""Idempotency keys in PostgreSQL (IETF Idempotency-Key draft semantics).

A key is scoped to the bot. The first request with a key owns it (`in_flight`) until it
stores its answer (`done`). A retry then gets the stored answer, status code included; a
concurrent duplicate gets 409; the same key with a different payload gets 422. A request
that fails on our side (5xx) gives the key up, so the retry can do the work. An owner that
died mid-request (`in_flight` for longer than `STALE_AFTER_S`) is taken over.

A new help request's answer is known before its command is sent, so the intake statement
stores it with the key while still `in_flight` (one round trip fewer); it is final once
Kafka has acknowledged the command, and the owner marks it `done` after its 202. A retry
that meets such an answer (`PendingAnswer`) cannot know whether Kafka has the command (the
owner may still be sending, may have been refused, or may have died), so it sends the stored
command again itself and answers only after Kafka's ack: the same answer, 202 only for a
command Kafka has, and the worker applies the command once (a known request id).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import HTTPException

from dispatcher.api.errors import fail
from dispatcher.record.edge import bot_calls

log = logging.getLogger(__name__)

STALE_AFTER_S = 30.0
# A quarter of a second of `done` marks per statement (about a dozen keys at 50 req/s): each
# statement is a round trip and a commit for the API and PostgreSQL, and a mark may wait:
# until it lands, a retry re-sends the stored command before it gets the same answer.
DONE_BATCH_S = 0.25


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class PendingAnswer:
    """An answer stored in flight: final once Kafka has the command of `request_id`."""

    answer: StoredAnswer
    request_id: str


def in_flight() -> HTTPException:
    return fail(
        409,
        "in_flight",
        "a request with this idempotency key is being processed; retry shortly",
        {"Retry-After": "1"},
    )


def fingerprint(payload: object) -> str:
    """Stable across key order and whitespace: what the caller asked for, not its bytes."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def begin(
    pool: asyncpg.Pool, bot_id: str, key: str, print_: str
) -> StoredAnswer | PendingAnswer | None:
    """None: this request now owns the key and must `finish` or `abandon` it. A
    `PendingAnswer` is answered only once its command is acknowledged (see above)."""
    for _ in range(3):  # the row may vanish between insert and select (abandoned): retry
        if await bot_calls.claim_key(pool, bot_id, key, print_):
            return None
        row = await bot_calls.key_state(pool, bot_id, key)
        if row is None:
            continue
        if row.fingerprint != print_:
            raise fail(
                422,
                "idempotency_key_reused",
                "this idempotency key (or message id) was used for a different request",
            )
        if row.state == "done":
            assert row.status_code is not None and row.response is not None
            return StoredAnswer(row.status_code, row.response)
        if row.response is not None and row.status_code is not None and row.request_id:
            return PendingAnswer(StoredAnswer(row.status_code, row.response), row.request_id)
        if row.age_s > STALE_AFTER_S and await bot_calls.take_over_stale(
            pool, bot_id, key, STALE_AFTER_S
        ):
            return None
        raise in_flight()
    raise fail(409, "in_flight", "idempotency key contended; retry shortly", {"Retry-After": "1"})


async def finish(
    pool: asyncpg.Pool, bot_id: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    await bot_calls.store_answer(pool, bot_id, key, status_code, body)


async def abandon(pool: asyncpg.Pool, bot_id: str, key: str) -> None:
    await bot_calls.give_up_key(pool, bot_id, key)


class DoneMarks:
    """Answers stored in flight whose commands Kafka acknowledged, marked `done` after their
    202s in batches (one statement every `DONE_BATCH_S` at most, not one per request): off
    the 202's path, and fewer round trips for the API and PostgreSQL. A mark lost (the
    process dies first, or PostgreSQL refuses) leaves the answer in flight, which is safe:
    a retry meeting it sends the stored command again before it gets the same answer."""

    def __init__(self, pool: Callable[[], Awaitable[asyncpg.Pool]]) -> None:
        self._pool = pool
        self._pending: list[tuple[str, str]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, bot_id: str, key: str) -> None:
        self._pending.append((bot_id, key))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_soon(), name="idempotency-done")

    async def _flush_soon(self) -> None:
        while self._pending:  # keys added during a flush go in the next one
            await asyncio.sleep(DONE_BATCH_S)
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await bot_calls.mark_done_many(await self._pool(), batch)
        except Exception as exc:  # never raised on: the 202s are out (see above)
            log.warning(
                "%d idempotency answers not marked done: %s", len(batch), type(exc).__name__
            )

    async def close(self) -> None:
        """At shutdown: the pending marks, once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
