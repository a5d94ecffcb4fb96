"""Idempotency keys in PostgreSQL (IETF Idempotency-Key draft semantics).

A key is scoped to the bot. The first request with a key owns it (`in_flight`) until it
stores its answer (`done`). A retry then gets the stored answer, status code included; a
concurrent duplicate gets 409; the same key with a different payload gets 422. A request
that fails on our side (5xx) gives the key up, so the retry can do the work. An owner that
died mid-request (`in_flight` for longer than `STALE_AFTER_S`) is taken over.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from dispatcher.api.errors import fail

STALE_AFTER_S = 30.0


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def fingerprint(payload: object) -> str:
    """Stable across key order and whitespace: what the caller asked for, not its bytes."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def begin(pool: asyncpg.Pool, bot_id: str, key: str, print_: str) -> StoredAnswer | None:
    """None: this request now owns the key and must `finish` or `abandon` it."""
    for _ in range(3):  # the row may vanish between insert and select (abandoned): retry
        owned = await pool.fetchval(
            "INSERT INTO api_idempotency (bot_id, key, fingerprint, state) "
            "VALUES ($1, $2, $3, 'in_flight') ON CONFLICT DO NOTHING RETURNING true",
            bot_id,
            key,
            print_,
        )
        if owned:
            return None
        row = await pool.fetchrow(
            "SELECT fingerprint, state, status_code, response, "
            "extract(epoch FROM now() - updated_at) AS age "
            "FROM api_idempotency WHERE bot_id = $1 AND key = $2",
            bot_id,
            key,
        )
        if row is None:
            continue
        if row["fingerprint"] != print_:
            raise fail(
                422,
                "idempotency_key_reused",
                "this idempotency key (or message id) was used for a different request",
            )
        if row["state"] == "done":
            return StoredAnswer(row["status_code"], json.loads(row["response"]))
        if float(row["age"]) > STALE_AFTER_S:
            taken = await pool.fetchval(
                "UPDATE api_idempotency SET updated_at = now() "
                "WHERE bot_id = $1 AND key = $2 AND state = 'in_flight' "
                "AND updated_at < now() - make_interval(secs => $3) RETURNING true",
                bot_id,
                key,
                STALE_AFTER_S,
            )
            if taken:
                return None
        raise fail(
            409,
            "in_flight",
            "a request with this idempotency key is being processed; retry shortly",
            {"Retry-After": "1"},
        )
    raise fail(409, "in_flight", "idempotency key contended; retry shortly", {"Retry-After": "1"})


async def finish(
    pool: asyncpg.Pool, bot_id: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    await pool.execute(
        "UPDATE api_idempotency SET state = 'done', status_code = $3, response = $4::jsonb, "
        "updated_at = now() WHERE bot_id = $1 AND key = $2",
        bot_id,
        key,
        status_code,
        json.dumps(body, ensure_ascii=False),
    )


async def abandon(pool: asyncpg.Pool, bot_id: str, key: str) -> None:
    await pool.execute(
        "DELETE FROM api_idempotency WHERE bot_id = $1 AND key = $2 AND state = 'in_flight'",
        bot_id,
        key,
    )
