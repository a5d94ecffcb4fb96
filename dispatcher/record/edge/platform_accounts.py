"""`platform_accounts`: which helper a chat-platform account is, per community, by a keyed
hash of the platform user id (never the id). Written by the API when staff upsert helpers
or import a ledger; read by the answer page's platform login (/l/me)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dispatcher.record.db import Db


async def remember(
    db: Db, community_id: str, accounts: Sequence[tuple[str, str | None]], now: datetime
) -> None:
    """(helper id, account hash or None) per helper: None forgets the helper's account."""
    await db.executemany(
        "INSERT INTO platform_accounts (community_id, helper_id, account_hash, updated_at) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (community_id, helper_id) DO UPDATE SET "
        "account_hash = EXCLUDED.account_hash, updated_at = EXCLUDED.updated_at",
        [(community_id, h, a, now) for h, a in accounts if a is not None],
    )
    forget = [h for h, a in accounts if a is None]
    if forget:
        await db.execute(
            "DELETE FROM platform_accounts WHERE community_id = $1 AND helper_id = ANY($2::text[])",
            community_id,
            forget,
        )


async def helpers_for(db: Db, community_id: str, hashes: Sequence[str]) -> list[str]:
    """The community's active helpers (as the worker recorded them) with this account;
    `hashes`: the account's hash under the current and any previous link secret."""
    rows = await db.fetch(
        "SELECT a.helper_id FROM platform_accounts a"
        " JOIN helpers h USING (helper_id, community_id)"
        " WHERE a.community_id = $1 AND a.account_hash = ANY($2::text[]) AND h.active"
        " ORDER BY a.helper_id",
        community_id,
        list(hashes),
    )
    return [str(r["helper_id"]) for r in rows]
