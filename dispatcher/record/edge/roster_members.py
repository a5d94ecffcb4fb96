"""Who earlier ledger imports listed (the `roster_members` edge table): a re-import of a
compound's ledger retires those it no longer lists. Written only after the commands are
acknowledged, so a failed import leaves it as it was and re-running computes the same set."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from dispatcher.record.db import Db
from dispatcher.record.edge import phone_keys, platform_accounts
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
        async with self._transaction() as conn:
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
            await _forget(conn, community_id, retired, now)

    async def retire(self, community_id: str, helper_ids: Collection[str], now: datetime) -> None:
        """Deactivated by staff: forgotten as a ledger's retirement forgets them (and not
        retired again by the next ledger that leaves them out)."""
        async with self._transaction() as conn:
            await _forget(conn, community_id, helper_ids, now)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        if isinstance(self.pool, asyncpg.Pool):
            async with self.pool.acquire() as conn, conn.transaction():
                yield conn
        else:
            async with self.pool.transaction():
                yield self.pool


async def _forget(
    conn: asyncpg.Connection, community_id: str, helper_ids: Collection[str], now: datetime
) -> None:
    """Names are kept while listed: a member off the roster keeps only their row's id. So is
    their platform account (the hash of the platform user id their profile no longer holds),
    their phone's digest, and the name of their decided sign-ups. A listing again writes
    name, account and digest again."""
    await conn.execute(
        "UPDATE roster_members SET retired_at = $3, display_name = '' "
        "WHERE community_id = $1 AND helper_id = ANY($2::text[])",
        community_id,
        list(helper_ids),
        now,
    )
    gone: list[tuple[str, str | None]] = [(h, None) for h in helper_ids]  # None: forget
    await platform_accounts.remember(conn, community_id, gone, now)
    await phone_keys.forget(conn, community_id, helper_ids)  # and their phone's digest
    # And the name on their decided sign-ups (the phone went when it was decided); a
    # pending one is the person asking again, theirs to keep until staff decide.
    await conn.execute(
        "UPDATE helper_registrations SET display_name = '' "
        "WHERE community_id = $1 AND helper_id = ANY($2::text[]) AND status <> 'pending'",
        community_id,
        list(helper_ids),
    )
