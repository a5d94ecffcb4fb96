"""A team leader's offer as the team tests need it: a request in the leader's building that
the core offers to the leader's team, and the offers it sends, once recorded."""

from __future__ import annotations

import asyncpg
import httpx

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.links import offer_path
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def offer_of(db: asyncpg.Connection, rid: str, helper: str, team: bool = False) -> str:
    """The offer to `helper` on the request, once recorded (the team offer with `team`)."""
    q = "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = $2 AND team_id IS " + (
        "NOT NULL" if team else "NULL"
    )

    async def offer() -> str | None:
        return await db.fetchval(q, rid, helper)  # type: ignore[no-any-return]

    return await eventually(offer, what=f"the offer to {helper}")


async def team_request(
    client: httpx.AsyncClient, db: asyncpg.Connection, community: str, leader: str, slots: int
) -> tuple[str, str]:
    """A carrying request in building b5 (the leader's) needing `slots`; (its id, the id of
    the offer to the leader's team)."""
    body = builders.request(
        community,
        source=None,
        place=builders.place(community, building="b5"),
        urgency="normal",
        category="carrying",
        skills=["carrying"],
        helpers_needed=slots,
    )
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = str(r.json()["request_id"])
    return rid, await offer_of(db, rid, leader, team=True)


async def team_offer(
    stack: LocalStack,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    community: str,
    leader: str,
    slots: int,
) -> tuple[str, str]:
    """`team_request`'s request; (its id, the leader's accept link to the team offer)."""
    rid, oid = await team_request(client, db, community, leader, slots)
    return rid, offer_path(stack, community, rid, oid, leader)
