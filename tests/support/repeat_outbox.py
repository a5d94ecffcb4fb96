"""A merged report's `ReportRepeated` as the API's outbox (`api_repeat_reports`) holds it."""

from __future__ import annotations

import asyncpg

from schemas.commands import Command, repeat_command


async def queued_repeat(db: asyncpg.Connection, request_id: str, community_id: str) -> Command:
    """The one repeat stored for `request_id`, marked queued (Kafka acknowledged it), rebuilt
    as the API and the sweeper build it: the id and time every copy of it carries."""
    rows = await db.fetch(
        "SELECT report_id, issued_at, queued_at FROM api_repeat_reports WHERE request_id = $1",
        request_id,
    )
    assert len(rows) == 1 and rows[0]["queued_at"] is not None, rows
    return repeat_command(
        request_id=request_id,
        community_id=community_id,
        report_id=rows[0]["report_id"],
        issued_at=rows[0]["issued_at"],
    )
