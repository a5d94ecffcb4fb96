"""Read model: the configuration's audit (who changed what, when; never a secret)."""

from __future__ import annotations

import json
from typing import Any

from dispatcher.record.db import Db


async def changes(db: Db, community_id: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT change_id, at, actor, kind, id, communities, removed, changes FROM config_audit"
        " WHERE $1::text IS NULL OR $1 = ANY(communities) ORDER BY at DESC, recorded_at DESC"
        " LIMIT $2",
        community_id,
        limit,
    )
    return [
        {
            "change_id": r["change_id"],
            "at": r["at"].isoformat(),
            "actor": r["actor"],
            "kind": r["kind"],
            "id": r["id"],
            "communities": list(r["communities"]),
            "removed": r["removed"],
            "changes": json.loads(r["changes"]),
        }
        for r in rows
    ]
