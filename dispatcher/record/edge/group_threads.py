"""Which chat groups asked about which request (`api_group_threads`), and which posts to
them were claimed (`api_group_posts`: each event is posted once across API instances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dispatcher.numbers import MAX_EPOCH_MS, checked_int
from dispatcher.record.db import Db

# Cancel-by-reply finds the sender's open request in the group within this window.
CANCEL_WINDOW_S = 6 * 3600


@dataclass(frozen=True)
class Thread:
    request_id: str
    bot_id: str
    group_id: str
    session_webhook: str | None = field(default=None, repr=False)
    session_expires: datetime | None = None
    reply_to: str | None = None  # Feishu: the asking message, for the reply API

    @property
    def key(self) -> tuple[str, str]:
        """Messages to one group are sent in order, one at a time."""
        return (self.bot_id, self.group_id)


async def record(
    pool: Db,
    thread: Thread,
    sender_id: str,
) -> None:
    await pool.execute(
        "INSERT INTO api_group_threads (request_id, bot_id, group_id, sender_id, "
        "session_webhook, session_expires, reply_to) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (request_id, bot_id, group_id) DO UPDATE SET "
        "session_webhook = EXCLUDED.session_webhook, session_expires = EXCLUDED.session_expires",
        thread.request_id,
        thread.bot_id,
        thread.group_id,
        sender_id,
        thread.session_webhook,
        thread.session_expires,
        thread.reply_to,
    )


async def for_requests(pool: Db, request_ids: list[str]) -> dict[str, list[Thread]]:
    rows = await pool.fetch(
        "SELECT request_id, bot_id, group_id, session_webhook, session_expires, reply_to "
        "FROM api_group_threads WHERE request_id = ANY($1::text[])",
        request_ids,
    )
    out: dict[str, list[Thread]] = {}
    for r in rows:
        out.setdefault(r["request_id"], []).append(
            Thread(
                r["request_id"],
                r["bot_id"],
                r["group_id"],
                r["session_webhook"],
                r["session_expires"],
                r["reply_to"],
            )
        )
    return out


async def open_request_of(pool: Db, bot_id: str, group_id: str, sender_id: str) -> str | None:
    """The sender's latest open request asked in this group (for "不用了，已经解决")."""
    value = await pool.fetchval(
        "SELECT request_id FROM api_group_threads WHERE bot_id = $1 AND group_id = $2 "
        "AND sender_id = $3 AND NOT closed AND created_at > now() - make_interval(secs => $4) "
        "ORDER BY created_at DESC LIMIT 1",
        bot_id,
        group_id,
        sender_id,
        float(CANCEL_WINDOW_S),
    )
    return str(value) if value is not None else None


async def close(pool: Db, request_id: str) -> None:
    await pool.execute(
        "UPDATE api_group_threads SET closed = true WHERE request_id = $1", request_id
    )


async def claim_post(pool: Db, post_key: str) -> bool:
    """True once per key: a replayed event (or a second API instance) never posts twice."""
    claimed = await pool.fetchval(
        "INSERT INTO api_group_posts (post_key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true",
        post_key,
    )
    return bool(claimed)


def expiry_from_ms(ms: int | None) -> datetime | None:
    """The session webhook's expiry; the adapter checked the range (`epoch_ms`), checked
    again here because a time no clock shows would raise from `fromtimestamp`."""
    if not ms:
        return None
    return datetime.fromtimestamp(checked_int(ms, "expiry", lo=0, hi=MAX_EPOCH_MS) / 1000, UTC)


async def purge(pool: Db) -> None:
    """Old threads and post claims are no longer needed (events older than an hour are not
    posted, and a closed request's group has heard its end)."""
    await pool.execute("DELETE FROM api_group_posts WHERE posted_at < now() - interval '2 days'")
    await pool.execute("DELETE FROM api_group_threads WHERE created_at < now() - interval '7 days'")
