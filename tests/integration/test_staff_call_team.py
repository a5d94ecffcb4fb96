"""Staff calling a team from the dashboard's API, through the real parts: the command goes
through Kafka, the worker offers the team's leader (far from the request, so the ladder's
own rings have not reached it), the leader's offer push reaches a real local receiver,
the leader accepts for two and two slots fill; the action is audited like the others."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.ops import district
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.private_phones import phones_and_robot, pushes
from tests.support.staff import DISTRICT, bearer, status_of, write_staff_file
from tests.support.waiting import eventually

C = "ct-a"
LI = secrets.token_urlsafe(32)  # staff of C
TEAM = "帮帮团"
FAR = district.place(C, "g9", "c9", "b9", "远景小区", "9")  # another grid: the last ring


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    write_staff_file(stack, {"li": (LI, [C])})
    async with phones_and_robot(stack) as receiver:
        yield receiver


@pytest.fixture(scope="module")
async def api(stack: LocalStack, phones: PushReceiver) -> LocalStack:
    return stack  # started by `phones`: the worker pushes to its receiver


async def put_helper(client: httpx.AsyncClient, helper_id: str, **kw: Any) -> None:
    body = builders.helper(helper_id, C, ["carrying"], channels=["phones"]) | kw
    r = await client.put(f"/v1/admin/helpers/{helper_id}", json=body, headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text


async def test_staff_call_a_team_and_its_leader_accepts_for_two(
    api: LocalStack, phones: PushReceiver, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # A carrier beside the request keeps the ladder in its first ring; the team lives far.
    await put_helper(client, "ct-carrier")
    await put_helper(client, "ct-leader", place=FAR, teams=[TEAM], leads_teams=[TEAM])
    await put_helper(client, "ct-member", place=FAR, teams=[TEAM])

    async def recorded() -> bool:
        n = await db.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", C)
        return int(n) == 3

    await eventually(recorded, what="the three helpers recorded")
    body = builders.request(
        C,
        source=None,
        urgency="normal",
        category="carrying",
        skills=["carrying"],
        helpers_needed=2,
    )
    r = await client.post("/v1/requests", json=body, headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    await phones.wait_for(lambda: bool(pushes(phones, "offer", "ct-carrier")), timeout=30)
    assert not pushes(phones, "offer", "ct-leader")

    call = f"/ops/v1/requests/{rid}/call-team"
    r = await client.post(call, json={"team_id": TEAM}, headers=bearer(LI))
    assert r.status_code == 202, r.text
    command_id = r.json()["command_id"]

    def leader_offered() -> bool:
        return any(o["request_id"] == rid for o in pushes(phones, "offer", "ct-leader"))

    await phones.wait_for(leader_offered, timeout=30)
    offer = next(o for o in pushes(phones, "offer", "ct-leader") if o["request_id"] == rid)

    async def recorded_offer() -> asyncpg.Record | None:  # the push may beat the read model
        return await db.fetchrow(  # type: ignore[no-any-return]
            "SELECT team_id, team_size FROM offers WHERE request_id = $1 AND helper_id = $2",
            rid,
            "ct-leader",
        )

    team = await eventually(recorded_offer, what="the team offer recorded")
    assert (team["team_id"], team["team_size"]) == (TEAM, 2)
    row = await db.fetchrow("SELECT * FROM staff_actions WHERE command_id = $1", command_id)
    assert (row["actor"], row["action"], row["detail"]) == ("li", "call_team", TEAM)
    assert (row["community_id"], row["via"], row["queued"]) == (C, "api", True)

    # Called again: refused by the core (the team holds its offer), no second offer.
    again = await client.post(call, json={"team_id": TEAM}, headers=bearer(LI))
    assert again.status_code == 202, again.text

    async def refused() -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT body->>'reason' FROM event_log WHERE caused_by = $1 "
            "AND type = 'command_rejected'",
            again.json()["command_id"],
        )

    assert await eventually(refused, what="the second call refused") == "already_offered"

    path = urlparse(offer["accept_url"]).path
    # Helpers added through the API are on the leader's checklist too (the core's roster).
    form = (await client.get(path)).text
    assert 'name="member" value="ct-member" checked' in form, form
    # A form from before names (only a count): the leader holds both slots, as then.
    accepted = await client.post(path, data={"members": "2"})
    assert accepted.status_code == 200, accepted.text

    async def filled() -> dict[str, Any] | None:
        doc = await status_of(client, rid)
        return doc if doc["helpers_assigned"] == 2 else None

    await eventually(filled, what="two slots filled by the team")

    async def covered() -> str | None:  # both slots are the team's: the carrier is let go
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT body->>'reason' FROM event_log WHERE (type = 'offer_stood_down' "
            "AND body->>'helper_id' = 'ct-carrier') OR (type = 'offers_stood_down' "
            "AND body->'offers' @> '[{\"helper_id\": \"ct-carrier\"}]')"
        )

    assert await eventually(covered, what="the carrier's offer stood down") == "covered"
    members = await db.fetchval(
        "SELECT members FROM assignments WHERE request_id = $1 AND helper_id = 'ct-leader'", rid
    )
    assert members == 2
    offers = await db.fetchval(
        "SELECT count(*) FROM offers WHERE request_id = $1 AND helper_id = 'ct-leader'", rid
    )
    assert offers == 1
