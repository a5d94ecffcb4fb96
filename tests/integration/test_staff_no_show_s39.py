"""Staff release a helper who accepted and is not coming (`POST /ops/v1/requests/{id}/
helpers/{helper_id}/no-show`), through the real parts: the command goes through Kafka, the
worker ends the assignment as a no-show, the slot reopens and the other neighbour is
offered (a push to a real local receiver), the helper's `no_show_total` is 1 in the helper
table and the worker's `dispatch_helpers_withdrawn{no_show="true"}` counts it; the action is
audited like the others. Staff of another community are refused (403) and a helper who
does not hold the request is a 409, nothing sent.

Before: no API route sent `WithdrawHelper(no_show=True)`; a helper who accepted and never
came held the request until its end (the route was a 404)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.maintenance.helper_table import read_helper_states
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.private_phones import phones_and_robot, pushes
from tests.support.staff import DISTRICT, bearer, status_of, write_staff_file
from tests.support.waiting import eventually

C = "ns-a"
OTHER = "ns-b"
LI = secrets.token_urlsafe(32)  # staff of C
WU = secrets.token_urlsafe(32)  # staff of OTHER
HELPERS = ("ns-h1", "ns-h2")  # both in the request's building


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    write_staff_file(stack, {"li": (LI, [C]), "wu": (WU, [OTHER])})
    async with phones_and_robot(stack) as receiver:
        yield receiver


@pytest.fixture(scope="module")
async def api(stack: LocalStack, phones: PushReceiver) -> LocalStack:
    return stack  # started by `phones`: the worker pushes to its receiver


def offers_of(phones: PushReceiver, rid: str, helper_id: str) -> list[dict[str, Any]]:
    return [o for o in pushes(phones, "offer", helper_id) if o["request_id"] == rid]


async def no_shows_counted(stack: LocalStack) -> float:
    """The worker's dispatch_helpers_withdrawn{no_show="true"} (0 before any)."""
    worker = stack.workers()[0]
    async with httpx.AsyncClient() as c:
        text = (await c.get(f"http://127.0.0.1:{worker.web_port}/metrics")).text
    line = 'dispatch_helpers_withdrawn_total{no_show="true"} '
    return next((float(x.removeprefix(line)) for x in text.splitlines() if x.startswith(line)), 0)


async def test_staff_release_a_no_show_and_the_other_neighbour_is_asked(
    api: LocalStack, phones: PushReceiver, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for hid in HELPERS:
        body = builders.helper(hid, C, ["driving"], channels=["phones"])
        r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=bearer(DISTRICT))
        assert r.status_code == 202, r.text

    async def recorded() -> bool:
        n = await db.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", C)
        return int(n) == len(HELPERS)

    await eventually(recorded, what="the two helpers recorded")
    # A normal request: its building rung asks one neighbour and waits 30 minutes, so the
    # other one is asked only once the slot reopens.
    body = builders.request(C, source=None, urgency="normal")
    r = await client.post("/v1/requests", json=body, headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    await phones.wait_for(lambda: any(offers_of(phones, rid, h) for h in HELPERS), timeout=30)
    gone, other = HELPERS if offers_of(phones, rid, HELPERS[0]) else HELPERS[::-1]
    assert not offers_of(phones, rid, other)
    accept = urlparse(offers_of(phones, rid, gone)[0]["accept_url"]).path
    accepted = await client.post(accept)
    assert accepted.status_code == 200, accepted.text

    listing = f"/ops/v1/requests/{rid}/helpers"

    async def held() -> dict[str, Any] | None:
        r = await client.get(listing, headers=bearer(LI))
        assert r.status_code == 200, r.text
        return r.json() if r.json()["helpers"] else None  # type: ignore[no-any-return]

    doc = await eventually(held, what="the assignment recorded")
    assert doc["open"] is True
    assert [(h["helper_id"], h["on_way"]) for h in doc["helpers"]] == [(gone, False)]
    assert (await status_of(client, rid))["helpers_assigned"] == 1
    assert await no_shows_counted(api) == 0

    url = f"/ops/v1/requests/{rid}/helpers/{gone}/no-show"
    # Staff of another community: refused before anything is written or sent.
    foreign = await client.post(url, headers=bearer(WU))
    assert foreign.status_code == 403, foreign.text
    assert (await client.get(listing, headers=bearer(WU))).status_code == 403
    # A helper who does not hold it (offered nothing, assigned nothing): a clear 409.
    stranger = await client.post(
        f"/ops/v1/requests/{rid}/helpers/{other}/no-show", headers=bearer(LI)
    )
    assert stranger.status_code == 409, stranger.text
    assert stranger.json()["detail"]["reason"] == "not_assigned"
    unknown = await client.post(
        f"/ops/v1/requests/no-such-request/helpers/{gone}/no-show", headers=bearer(LI)
    )
    assert unknown.status_code == 404, unknown.text
    assert await db.fetchval("SELECT count(*) FROM staff_actions WHERE request_id = $1", rid) == 0

    r = await client.post(url, headers=bearer(LI))
    assert r.status_code == 202, r.text
    command_id = r.json()["command_id"]
    row = await db.fetchrow("SELECT * FROM staff_actions WHERE command_id = $1", command_id)
    assert (row["actor"], row["action"], row["detail"]) == ("li", "no_show", gone)
    assert (row["community_id"], row["via"], row["queued"]) == (C, "api", True)

    async def withdrawn() -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT body->>'no_show' FROM event_log WHERE caused_by = $1 "
            "AND type = 'helper_withdrawn'",
            command_id,
        )

    assert await eventually(withdrawn, what="the no-show applied") == "true"
    # The slot reopened: the other neighbour of the building is asked now.
    await phones.wait_for(lambda: bool(offers_of(phones, rid, other)), timeout=30)

    async def released() -> tuple[str, str, int] | None:
        row = await db.fetchrow(
            "SELECT a.released_why, r.status, r.helpers_assigned FROM assignments a "
            "JOIN requests r USING (request_id) WHERE a.request_id = $1 AND a.helper_id = $2 "
            "AND a.released_at IS NOT NULL",
            rid,
            gone,
        )
        return tuple(row) if row is not None else None  # type: ignore[return-value]

    assert await eventually(released, what="the release recorded") == ("no_show", "open", 0)
    assert (await client.get(listing, headers=bearer(LI))).json()["helpers"] == []

    async def no_show_total() -> int | None:
        states = {s.helper_id: s for s in await read_helper_states(api.settings(push_endpoints=[]))}
        n = states[gone].load.no_show_total if gone in states else 0
        return n or None

    assert await eventually(no_show_total, what="the no-show counted") == 1
    assert await no_shows_counted(api) == 1
    # Pressed again once recorded: a 409 naming why, nothing sent.
    again = await client.post(url, headers=bearer(LI))
    assert again.status_code == 409, again.text
    assert again.json()["detail"]["reason"] == "already_released"
    assert await db.fetchval("SELECT count(*) FROM staff_actions WHERE request_id = $1", rid) == 1
