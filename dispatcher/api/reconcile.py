"""Nothing acknowledged is lost: re-send acknowledged requests the worker never recorded,
and volunteers' answers (accept/decline links) that never took effect.

The API answered 202 only after Kafka had the SubmitRequest (acks=all), so the command is
durable. But a consumer can still skip it (faust-streaming has open issues where a stream
resumes past its committed offset after a rebalance: #216, #221). This loop closes that
gap end to end: every acknowledged request must appear in the read model within a grace
period; if not, the very same command (same command id) is produced again. The core treats
a known request id as a no-op, so a re-send can never open a second request.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from dispatcher.api.deps import ApiDeps
from schemas.commands import AcceptOffer, Command, DeclineOffer

log = logging.getLogger(__name__)

MAX_RESENDS = 20


async def reconcile_once(deps: ApiDeps) -> tuple[int, int]:
    """One pass; returns (confirmed now, re-sent now)."""
    settings = deps.settings
    pool = await deps.pool()
    async with pool.acquire() as conn:
        # Recorded by the worker: confirm, and drop the stored copy (it holds the contact).
        confirmed = await conn.execute(
            """
            UPDATE api_intake i SET confirmed_at = now(), command = NULL
            FROM requests r
            WHERE r.request_id = i.request_id AND i.confirmed_at IS NULL
            """
        )
        resent = 0
        if not settings.reconcile_enabled:
            return int(confirmed.split()[-1]), 0
        async with conn.transaction():
            rows = await conn.fetch(
                """
                SELECT request_id, community_id, command::text AS command FROM api_intake
                WHERE confirmed_at IS NULL AND command IS NOT NULL AND resent < $2
                  AND opened_at < now() - make_interval(secs => $1)
                ORDER BY opened_at LIMIT 500
                FOR UPDATE SKIP LOCKED
                """,
                settings.reconcile_grace_seconds,
                MAX_RESENDS,
            )
            for row in rows:
                await deps.sink.send(
                    settings.commands_topic, row["community_id"], row["command"].encode()
                )
                await conn.execute(
                    "UPDATE api_intake SET resent = resent + 1 WHERE request_id = $1",
                    row["request_id"],
                )
                resent += 1
        resent_links = await _resend_link_answers(deps, conn)
    if resent:
        log.warning("re-sent %d acknowledged request(s) not yet recorded by the worker", resent)
    if resent_links:
        log.warning("re-sent %d volunteer answer(s) that had not taken effect", resent_links)
    return int(confirmed.split()[-1]), resent + resent_links


async def _resend_link_answers(deps: ApiDeps, conn: asyncpg.Connection) -> int:
    """A volunteer's accept/decline whose command caused no event yet is sent again (same
    command id: the core applies it once)."""
    settings = deps.settings
    async with conn.transaction():
        rows = await conn.fetch(
            """
            SELECT u.use_key, u.command_id, u.action, u.request_id, u.offer_id, u.helper_id,
                   u.used_at, r.community_id
            FROM api_link_uses u JOIN requests r ON r.request_id = u.request_id
            WHERE u.used_at < now() - make_interval(secs => $1) AND u.resent < $2
              AND NOT EXISTS (SELECT 1 FROM event_log e WHERE e.caused_by = u.command_id)
            ORDER BY u.used_at LIMIT 500
            FOR UPDATE OF u SKIP LOCKED
            """,
            settings.reconcile_grace_seconds,
            MAX_RESENDS,
        )
        for row in rows:
            answer = {
                "request_id": row["request_id"],
                "offer_id": row["offer_id"],
                "helper_id": row["helper_id"],
            }
            body = AcceptOffer(**answer) if row["action"] == "accept" else DeclineOffer(**answer)
            command = Command(
                command_id=row["command_id"],
                community_id=row["community_id"],
                issued_at=row["used_at"],
                body=body,
            )
            await deps.sink.send(
                settings.commands_topic, command.community_id, command.model_dump_json().encode()
            )
            await conn.execute(
                "UPDATE api_link_uses SET resent = resent + 1 WHERE use_key = $1", row["use_key"]
            )
    return len(rows)


async def reconcile_forever(deps: ApiDeps) -> None:
    while True:
        await asyncio.sleep(deps.settings.reconcile_interval_seconds)
        try:
            await reconcile_once(deps)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("reconcile pass failed (%s); will retry", type(exc).__name__)
        except Exception:
            log.exception("reconcile pass failed; will retry")
