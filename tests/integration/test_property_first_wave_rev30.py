"""Property management (物业) is offered in the first wave of what is theirs too, through the
real parts: a chat message to the signed API → Kafka → the worker → PostgreSQL. "楼道着火了"
(other, critical, 119) reaches the compound's 物业 with the neighbours' first wave, before
any whistle; an errand does not reach them (review finding: `notify_property` was read
by nobody)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient, bots_file_doc
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "prop-wave"
GROUP = {
    "community_id": COMMUNITY,
    "grid_id": "g1",
    "compound_id": "c1",
    "compound_name": "图强小区",
}
PROPERTY = "pw-wuye"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    bots = bots_file_doc({COMMUNITY})
    bots["bots"][0]["groups"] = {"grid-1": GROUP}  # the harness's bot, with a chat group
    path = stack.root / "property-wave-bots.json"
    path.write_text(json.dumps(bots), encoding="utf-8")
    stack.extra_env["DISPATCH_BOTS_FILE"] = str(path)
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        helpers = [
            builders.helper("pw-neighbour", COMMUNITY, ["general", "errands"]),
            builders.helper(
                PROPERTY,
                COMMUNITY,
                [],
                roles=["property_management"],
                place=builders.place(COMMUNITY, building="b9", household_id="h-wuye"),
            ),
        ]
        for h in helpers:
            r = await client.put(f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=STAFF)
            assert r.status_code == 202, r.text
    yield stack


async def chat(client: httpx.AsyncClient, text: str, message_id: str) -> dict[str, Any]:
    body = {"group_id": "grid-1", "message_id": message_id, "sender": {"id": "wx-1"}, "text": text}
    r = await BotClient(client).post("/v1/messages", body)
    assert r.status_code == 202, r.text
    return dict(r.json())


async def offers_of(db: asyncpg.Connection, request_id: str) -> dict[str, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM offers WHERE request_id = $1", request_id)
    return {r["helper_id"]: r for r in rows}


async def test_a_fire_in_the_stairwell_reaches_property_management_in_the_first_wave(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    answer = await chat(client, "3号楼楼道着火了", "m-fire")
    assert answer["emergency_number"] == "119" and "119" in answer["reply_text"]
    request_id = answer["request_id"]

    async def both() -> dict[str, asyncpg.Record] | None:
        found = await offers_of(db, request_id)
        return found if {PROPERTY, "pw-neighbour"} <= set(found) else None

    found = await eventually(both, what="offers to the neighbour and to 物业")
    wuye, neighbour = found[PROPERTY], found["pw-neighbour"]
    assert wuye["step"] == 0 and wuye["ring"] == "whistle"
    assert neighbour["step"] == 0 and neighbour["ring"] != "whistle"
    whistled = await db.fetchval(
        "SELECT min(occurred_at) FROM event_log WHERE request_id = $1 AND type = 'whistle_blown'",
        request_id,
    )
    assert whistled is None or whistled > wuye["sent_at"]  # not by the whistle


async def test_an_errand_does_not_reach_property_management(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    answer = await chat(client, "3号楼谁能帮忙去药店买点退烧药？", "m-errand")
    request_id = answer["request_id"]

    async def neighbour_asked() -> dict[str, asyncpg.Record] | None:
        found = await offers_of(db, request_id)
        return found if "pw-neighbour" in found else None

    found = await eventually(neighbour_asked, what="the errand's offer to the neighbour")
    assert PROPERTY not in found
