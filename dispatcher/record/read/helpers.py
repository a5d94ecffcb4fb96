"""Helpers as recorded (the roster the worker has applied)."""

from __future__ import annotations

from collections.abc import Collection

from dispatcher.record.db import Db


async def count_in(db: Db, community_ids: Collection[str]) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM helpers WHERE community_id = ANY($1::text[])", list(community_ids)
    )
    return int(count)
