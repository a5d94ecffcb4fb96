"""Who earlier ledger imports listed (the `roster_members` edge table): a re-import of a
compound's ledger retires those it no longer lists. Written only after the commands are
acknowledged, so a failed import leaves it as it was and re-running computes the same set."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg

from dispatcher.record.db import Db
from dispatcher.roster.report import Retiree
from schemas.helpers import HelperProfile


class RosterMembers:
    def __init__(self, pool: Db) -> None:
        self.pool = pool

    async def listed(self, community_id: str, compound_ids: Collection[str]) -> list[Retiree]:
        """Helpers a ledger listed in these compounds who have not been retired since."""
        rows = await self.pool.fetch(
            "SELECT helper_id, display_name, compound_id FROM roster_members "
            "WHERE community_id = $1 AND compound_id = ANY($2::text[]) AND retired_at IS NULL "
            "ORDER BY compound_id, helper_id",
            community_id,
            list(compound_ids),
        )
        return [
            Retiree(helper_id=r["helper_id"], name=r["display_name"], compound_id=r["compound_id"])
            for r in rows
        ]

    async def record(
        self,
        community_id: str,
        listed: Sequence[HelperProfile],
        retired: Collection[str],
        now: datetime,
    ) -> None:
        async def write(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO roster_members (community_id, helper_id, compound_id, "
                    "display_name, listed_at, position) "
                    "VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (community_id, helper_id) DO UPDATE SET "
                    "compound_id = EXCLUDED.compound_id, display_name = EXCLUDED.display_name, "
                    "listed_at = EXCLUDED.listed_at, retired_at = NULL, "
                    "position = EXCLUDED.position",
                    [
                        (
                            community_id,
                            p.helper_id,
                            p.place.compound_id,
                            p.name,
                            now,
                            position,  # the ledger's row order: a team checklist's order
                        )
                        for position, p in enumerate(listed)
                    ],
                )
                # Names are kept while listed: a retired member's row keeps only its id
                # (a re-import that lists them again writes the name again).
                await conn.execute(
                    "UPDATE roster_members SET retired_at = $3, display_name = '' "
                    "WHERE community_id = $1 AND helper_id = ANY($2::text[])",
                    community_id,
                    list(retired),
                    now,
                )
                # So is their platform account (the hash of the platform user id their
                # profile no longer holds): a listing again remembers it again.
                await conn.execute(
                    "DELETE FROM platform_accounts "
                    "WHERE community_id = $1 AND helper_id = ANY($2::text[])",
                    community_id,
                    list(retired),
                )

        if isinstance(self.pool, asyncpg.Pool):
            async with self.pool.acquire() as conn:
                await write(conn)
        else:
            await write(self.pool)
