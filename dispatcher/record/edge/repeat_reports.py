"""Merged reports' `ReportRepeated` commands (`api_repeat_reports`, migration 0407): the
outbox, written by the intake statement in the merge's own transaction, marked queued once
Kafka acknowledged the command (or nothing was to be sent), and sent by the unrecorded
sweeper while it is not. Ids and times only: the command is rebuilt from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from dispatcher.record.db import Db
from schemas.commands import Command, repeat_command


@dataclass(frozen=True)
class RepeatReport:
    request_id: str  # the open request the report was merged into
    report_id: str  # the merged report's own (message-derived) request id
    community_id: str
    issued_at: datetime

    def command(self) -> Command:
        """The very command the API sends: the same id and time however often rebuilt."""
        return repeat_command(
            request_id=self.request_id,
            community_id=self.community_id,
            report_id=self.report_id,
            issued_at=self.issued_at,
        )


async def mark_queued(db: Db, request_id: str, report_id: str) -> None:
    await db.execute(
        "UPDATE api_repeat_reports SET queued_at = now() "
        "WHERE request_id = $1 AND report_id = $2 AND queued_at IS NULL",
        request_id,
        report_id,
    )


async def unqueued(conn: asyncpg.Connection, grace_s: float, limit: int) -> list[RepeatReport]:
    """Repeats older than `grace_s` that were never queued (the API died or Kafka refused
    before the ack), locked for this transaction (another API instance skips them)."""
    rows = await conn.fetch(
        """
        SELECT request_id, report_id, community_id, issued_at FROM api_repeat_reports
        WHERE queued_at IS NULL AND opened_at < now() - make_interval(secs => $1)
        ORDER BY opened_at LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        grace_s,
        limit,
    )
    return [RepeatReport(**dict(r)) for r in rows]
