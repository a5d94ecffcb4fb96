"""Helpers as recorded (the roster the worker has applied)."""

from __future__ import annotations

from collections.abc import Collection

from dispatcher.record.db import Db


async def count_in(db: Db, community_ids: Collection[str]) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM helpers WHERE community_id = ANY($1::text[])", list(community_ids)
    )
    return int(count)


async def helpers_elsewhere(db: Db, community_id: str, helper_ids: Collection[str]) -> set[str]:
    """Of these ids, those recorded as another community's helpers: the rule the projection's
    upserts keep (a row stays its first community's), for the API to refuse such a change
    up front. Ids are not per community (a ledger's 编号 is kept as written)."""
    rows = await db.fetch(
        "SELECT helper_id FROM helpers WHERE helper_id = ANY($1::text[]) AND community_id <> $2",
        list(helper_ids),
        community_id,
    )
    return {r["helper_id"] for r in rows}


async def known_in(db: Db, community_id: str, helper_ids: Collection[str]) -> set[str]:
    """Of these ids, the community's helpers: recorded by the worker, or put on the roster by
    a ledger import or staff whose commands the worker may not have applied yet (commands
    are applied in order, so a pairing sent now finds them)."""
    rows = await db.fetch(
        "SELECT helper_id FROM helpers WHERE community_id = $1 AND helper_id = ANY($2::text[])"
        " UNION SELECT helper_id FROM roster_members"
        " WHERE community_id = $1 AND helper_id = ANY($2::text[]) AND retired_at IS NULL"
        " UNION SELECT helper_id FROM helper_phone_keys"
        " WHERE community_id = $1 AND helper_id = ANY($2::text[])",
        community_id,
        list(helper_ids),
    )
    return {r["helper_id"] for r in rows}


async def is_active(db: Db, community_id: str, helper_id: str) -> bool | None:
    """Whether the worker has this helper on the community's roster: None when it has not
    recorded them (yet: a helper just added is written once the worker applies it)."""
    active = await db.fetchval(
        "SELECT active FROM helpers WHERE community_id = $1 AND helper_id = $2",
        community_id,
        helper_id,
    )
    return None if active is None else bool(active)
