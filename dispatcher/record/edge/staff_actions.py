"""`staff_actions`: one row per action a staff member (or a called recipient, through a
link) took on a request: who, when, what, and the command it became. Written before the
command is queued and marked once Kafka acknowledged it, so an attempt that never reached
the stream is still on record (queued = false)."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.record.db import Db, Row


@dataclass(frozen=True)
class StaffAction:
    actor: str
    action: str
    request_id: str
    community_id: str
    command_id: str
    via: str
    detail: str = ""


async def begin(db: Db, a: StaffAction) -> None:
    await db.execute(
        "INSERT INTO staff_actions (actor, action, request_id, community_id, command_id, "
        "detail, via) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        a.actor,
        a.action,
        a.request_id,
        a.community_id,
        a.command_id,
        a.detail,
        a.via,
    )


async def queued(db: Db, command_id: str) -> None:
    await db.execute("UPDATE staff_actions SET queued = true WHERE command_id = $1", command_id)


async def of_request(db: Db, request_id: str) -> list[Row]:
    rows = await db.fetch(
        "SELECT at, actor, action, detail, via, command_id, queued FROM staff_actions "
        "WHERE request_id = $1 ORDER BY at, id",
        request_id,
    )
    return [dict(r) for r in rows]
