"""Defence in depth: re-send acknowledged commands the worker never recorded.

The API answers 202 only after Kafka has a command (acks=all), and the worker's consumer
fixes (streams/faust_consumer.py, streams/faust_recovery.py) keep it from skipping one: the
crash tests need no re-send (they run with this sweep's re-sends off). The sweep stays as a
cheap second line: every `reconcile_interval_seconds` it confirms the requests the worker
recorded (dropping the intake's stored copy, which holds the contact: this part always
runs), and, unless `reconcile_enabled` is false, produces again, with the same command id,
an acknowledged request not recorded within `reconcile_grace_seconds`, a volunteer's
answer (accept/decline link) that caused no event, a recipient's claim or 报到 link
whose command Kafka never acknowledged (the API died between the claim and the ack), and a
merged report's `ReportRepeated` never queued (the API died or Kafka refused between the
merge and the ack; its request's own stored command first, if still unrecorded). Each
is sent as stored with its claim, exactly as pressed (a team leader's members included).
The core applies a command id once, so a re-send can never open a second request or answer
twice.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from dispatcher.api.deps import ApiDeps
from dispatcher.record.edge import (
    intake,
    link_uses,
    recipient_links,
    repeat_reports,
    staff_actions,
)
from schemas.commands import AcceptOffer, Command, DeclineOffer

log = logging.getLogger(__name__)

MAX_RESENDS = 20


async def sweep_once(deps: ApiDeps) -> tuple[int, int]:
    """One pass; returns (confirmed now, re-sent now)."""
    settings = deps.settings
    pool = await deps.pool()
    async with pool.acquire() as conn:
        confirmed = await intake.confirm_recorded(conn)
        if not settings.reconcile_enabled:
            return confirmed, 0
        resent = await _resend_requests(deps, conn)
        resent_links = await _resend_link_answers(deps, conn)
        resent_links += await _resend_recipient_uses(deps, conn)
        repeats = await _resend_repeats(deps, conn)
    if resent:
        log.warning("re-sent %d acknowledged request(s) not yet recorded by the worker", resent)
    if resent_links:
        log.warning("re-sent %d volunteer answer(s) that had not taken effect", resent_links)
    if repeats:
        log.warning("sent %d merged report(s)' ReportRepeated left unqueued", repeats)
    return confirmed, resent + resent_links + repeats


async def _resend_requests(deps: ApiDeps, conn: asyncpg.Connection) -> int:
    settings = deps.settings
    async with conn.transaction():
        rows = await intake.unrecorded(conn, settings.reconcile_grace_seconds, MAX_RESENDS)
        for row in rows:
            await deps.sink.send(settings.commands_topic, row.community_id, row.command.encode())
            await intake.count_resent(conn, row.request_id)
    return len(rows)


async def _resend_link_answers(deps: ApiDeps, conn: asyncpg.Connection) -> int:
    """A volunteer's accept/decline whose command caused no event yet is sent again (same
    command id: the core applies it once)."""
    settings = deps.settings
    async with conn.transaction():
        rows = await link_uses.unapplied(conn, settings.reconcile_grace_seconds, MAX_RESENDS)
        for row in rows:
            command = row.command or _rebuilt(row)
            await deps.sink.send(settings.commands_topic, row.community_id, command.encode())
            await link_uses.count_resent(conn, row.use_key)
    return len(rows)


def _rebuilt(row: link_uses.UnappliedUse) -> str:
    """A use from before its command was stored (migration 0390): from its ids, so without
    a team leader's members."""
    answer = {"request_id": row.request_id, "offer_id": row.offer_id, "helper_id": row.helper_id}
    body = AcceptOffer(**answer) if row.action == "accept" else DeclineOffer(**answer)
    command = Command(
        command_id=row.command_id,
        community_id=row.community_id,
        issued_at=row.used_at,
        body=body,
    )
    return command.model_dump_json()


async def _resend_recipient_uses(deps: ApiDeps, conn: asyncpg.Connection) -> int:
    """A recipient link's claim or 报到 that Kafka never acknowledged is sent as stored,
    then marked queued (and its audit row)."""
    settings = deps.settings
    async with conn.transaction():
        rows = await recipient_links.unqueued(conn, settings.reconcile_grace_seconds, 500)
        for row in rows:
            await deps.sink.send(settings.commands_topic, row.community_id, row.command.encode())
            await recipient_links.mark_queued(conn, row.link_sha256)
            await staff_actions.queued(conn, row.command_id)
    return len(rows)


async def _resend_repeats(deps: ApiDeps, conn: asyncpg.Connection) -> int:
    """A merged report's `ReportRepeated` never queued is sent, rebuilt as the API built it
    (same id and time: the core decides it once, as it would have), then marked queued.
    Its request's stored command goes first while the worker has not recorded that request:
    a repeat of a request the worker does not know is refused (`unknown_request`), and the
    report may have been merged into one whose own send failed too."""
    settings = deps.settings
    async with conn.transaction():
        rows = await repeat_reports.unqueued(conn, settings.reconcile_grace_seconds, 500)
        for row in rows:
            earlier = await intake.outbox(conn, row.request_id)
            if earlier is not None and earlier.command is not None:
                await deps.sink.send(
                    settings.commands_topic, earlier.community_id, earlier.command.encode()
                )
            command = row.command().model_dump_json()
            await deps.sink.send(settings.commands_topic, row.community_id, command.encode())
            await repeat_reports.mark_queued(conn, row.request_id, row.report_id)
    return len(rows)


async def sweep_forever(deps: ApiDeps) -> None:
    while True:
        await asyncio.sleep(deps.settings.reconcile_interval_seconds)
        try:
            await sweep_once(deps)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("unrecorded sweep failed (%s); will retry", type(exc).__name__)
        except Exception:
            log.exception("unrecorded sweep failed; will retry")
