"""Helpers as recorded (the roster the worker has applied)."""

from __future__ import annotations

from collections.abc import Collection

from dispatcher.record.db import Db
from schemas.helpers import HelperProfile


async def count_in(db: Db, community_ids: Collection[str]) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM helpers WHERE community_id = ANY($1::text[])", list(community_ids)
    )
    return int(count)


async def profiles(db: Db, community_id: str, helper_ids: Collection[str]) -> list[HelperProfile]:
    """The recorded profiles of these helpers of the community (unknown ids: left out)."""
    rows = await db.fetch(
        "SELECT profile FROM helpers WHERE community_id = $1 AND helper_id = ANY($2::text[]) "
        "ORDER BY helper_id",
        community_id,
        list(helper_ids),
    )
    return [HelperProfile.model_validate_json(r["profile"]) for r in rows]
