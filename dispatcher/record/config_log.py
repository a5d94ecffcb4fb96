"""The configuration's projection: current states (secrets as fingerprints) and the audit.

Written by the worker's config recorder (streams/config_agent.py) from the `config` topic;
idempotent by change id, so a redelivered record changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

Diff = Callable[[dict[str, Any] | None, dict[str, Any] | None], list[dict[str, Any]]]


async def record_change(
    db: asyncpg.Pool,
    *,
    change_id: str,
    kind: str,
    entity_id: str,
    communities: list[str],
    actor: str,
    at: datetime,
    state: dict[str, Any] | None,
    diff: Diff,
) -> bool:
    """Store one change (state already redacted) and its audit row; False if seen before
    or if it changed nothing."""
    async with db.acquire() as conn, conn.transaction():
        seen = await conn.fetchval("SELECT 1 FROM config_audit WHERE change_id = $1", change_id)
        if seen:
            return False
        before_json = await conn.fetchval(
            "SELECT state FROM config_entities WHERE kind = $1 AND id = $2 FOR UPDATE",
            kind,
            entity_id,
        )
        before = json.loads(before_json) if before_json else None
        changes = diff(before, state)
        await conn.execute(
            "INSERT INTO config_entities (kind, id, communities, state, change_id, updated_by,"
            " updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)"
            " ON CONFLICT (kind, id) DO UPDATE SET communities = EXCLUDED.communities,"
            " state = EXCLUDED.state, change_id = EXCLUDED.change_id,"
            " updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
            kind,
            entity_id,
            communities,
            None if state is None else json.dumps(state),
            change_id,
            actor,
            at,
        )
        if not changes:
            return False
        await conn.execute(
            "INSERT INTO config_audit (change_id, at, actor, kind, id, communities, removed,"
            " changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
            change_id,
            at,
            actor,
            kind,
            entity_id,
            communities,
            state is None,
            json.dumps(changes, ensure_ascii=False),
        )
        return True
