"""Whether a community id names a community this service has ever known."""

from __future__ import annotations

from dispatcher.record.db import Db

# Helpers are deactivated, never deleted, and requests stay (retention drops only their
# private parts): a community known once stays known. A roster imported before anyone was
# put on it makes it known too.
KNOWN_SQL = """
SELECT EXISTS (SELECT 1 FROM helpers WHERE community_id = $1)
    OR EXISTS (SELECT 1 FROM requests WHERE community_id = $1)
    OR EXISTS (SELECT 1 FROM roster_members WHERE community_id = $1)
"""


async def known(db: Db, community_id: str) -> bool:
    return bool(await db.fetchval(KNOWN_SQL, community_id))
