"""Bots' retries and replays: `api_idempotency` (stored answers per Idempotency-Key; the
protocol is in dispatcher/api/idempotency.py) and `api_webhook_ids` (each signed delivery
accepted once; see dispatcher/api/bot_auth.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dispatcher.record.db import Db

KEYS_KEPT_S = 86400.0  # an Idempotency-Key (or message id) is remembered for a day


@dataclass(frozen=True)
class KeyState:
    fingerprint: str
    state: str  # in_flight | done
    status_code: int | None
    response: dict[str, Any] | None
    age_s: float  # since its owner last touched it
    request_id: str | None  # with an answer stored in flight: the request it answers


async def claim_key(db: Db, bot_id: str, key: str, fingerprint: str) -> bool:
    """True: the key is new and now `in_flight`, owned by the caller."""
    owned = await db.fetchval(
        "INSERT INTO api_idempotency (bot_id, key, fingerprint, state) "
        "VALUES ($1, $2, $3, 'in_flight') ON CONFLICT DO NOTHING RETURNING true",
        bot_id,
        key,
        fingerprint,
    )
    return bool(owned)


async def key_state(db: Db, bot_id: str, key: str) -> KeyState | None:
    row = await db.fetchrow(
        "SELECT fingerprint, state, status_code, response, request_id, "
        "extract(epoch FROM now() - updated_at) AS age "
        "FROM api_idempotency WHERE bot_id = $1 AND key = $2",
        bot_id,
        key,
    )
    if row is None:
        return None
    response = json.loads(row["response"]) if row["response"] is not None else None
    return KeyState(
        row["fingerprint"],
        row["state"],
        row["status_code"],
        response,
        float(row["age"]),
        row["request_id"],
    )


async def take_over_stale(db: Db, bot_id: str, key: str, stale_after_s: float) -> bool:
    """True: the key's owner had not touched it for `stale_after_s`; the caller owns it now."""
    taken = await db.fetchval(
        "UPDATE api_idempotency SET updated_at = now() "
        "WHERE bot_id = $1 AND key = $2 AND state = 'in_flight' "
        "AND updated_at < now() - make_interval(secs => $3) RETURNING true",
        bot_id,
        key,
        stale_after_s,
    )
    return bool(taken)


async def store_answer(
    db: Db, bot_id: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    await db.execute(
        "UPDATE api_idempotency SET state = 'done', status_code = $3, response = $4::jsonb, "
        "updated_at = now() WHERE bot_id = $1 AND key = $2",
        bot_id,
        key,
        status_code,
        json.dumps(body, ensure_ascii=False),
    )


async def mark_done(db: Db, bot_id: str, key: str) -> None:
    """The answer stored in flight (by the intake statement) is final: Kafka acknowledged."""
    await db.execute(
        "UPDATE api_idempotency SET state = 'done', updated_at = now() "
        "WHERE bot_id = $1 AND key = $2 AND state = 'in_flight' AND response IS NOT NULL",
        bot_id,
        key,
    )


async def mark_done_many(db: Db, keys: list[tuple[str, str]]) -> None:
    """`mark_done` for many (bot_id, key) pairs in one statement."""
    await db.execute(
        "UPDATE api_idempotency i SET state = 'done', updated_at = now() "
        "FROM unnest($1::text[], $2::text[]) AS k (bot_id, key) "
        "WHERE i.bot_id = k.bot_id AND i.key = k.key "
        "AND i.state = 'in_flight' AND i.response IS NOT NULL",
        [bot_id for bot_id, _ in keys],
        [key for _, key in keys],
    )


async def give_up_key(db: Db, bot_id: str, key: str) -> None:
    await db.execute(
        "DELETE FROM api_idempotency WHERE bot_id = $1 AND key = $2 AND state = 'in_flight'",
        bot_id,
        key,
    )


async def claim_webhook_id(db: Db, bot_id: str, webhook_id: str) -> bool:
    """True the first time this bot presents this webhook-id."""
    claimed = await db.fetchval(
        "INSERT INTO api_webhook_ids (bot_id, webhook_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING RETURNING true",
        bot_id,
        webhook_id,
    )
    return bool(claimed)


async def release_webhook_id(db: Db, bot_id: str, webhook_id: str) -> None:
    await db.execute(
        "DELETE FROM api_webhook_ids WHERE bot_id = $1 AND webhook_id = $2", bot_id, webhook_id
    )


async def purge(db: Db, webhook_ids_older_than_s: float) -> None:
    """Webhook-ids too old to pass the timestamp check anyway, and keys older than a day
    (`KEYS_KEPT_S`; their request ids stay taken: `intake.submit`)."""
    await db.execute(
        "DELETE FROM api_webhook_ids WHERE seen_at < now() - make_interval(secs => $1)",
        webhook_ids_older_than_s,
    )
    await db.execute(
        "DELETE FROM api_idempotency WHERE created_at < now() - make_interval(secs => $1)",
        KEYS_KEPT_S,
    )
