"""Waiting for a request's offers in the read model: each helper's offer id, by helper."""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from tests.support.waiting import eventually


async def offers_to(db: asyncpg.Connection, rid: str, helpers: Collection[str]) -> dict[str, str]:
    """Once every one of `helpers` has an offer of `rid` recorded: offer id by helper."""

    async def recorded() -> dict[str, str] | None:
        rows = await db.fetch("SELECT helper_id, offer_id FROM offers WHERE request_id = $1", rid)
        found = {row["helper_id"]: row["offer_id"] for row in rows}
        return found if set(helpers) <= set(found) else None

    return await eventually(recorded, what=f"offers of {rid} to {sorted(helpers)}")
