"""DISPATCH_COMMUNITY_PARTITIONS through the real parts: the API's command, the worker's
events and its own commands for a listed community all land on the listed partition (not
where murmur2 would put them), and the request is dispatched from there."""

from __future__ import annotations

import json

import httpx
from aiokafka.partitioner import DefaultPartitioner

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

COMMUNITY = "placed"


async def test_a_listed_community_lives_on_its_partition(stack: LocalStack) -> None:
    every = list(range(stack.partitions))
    hashed = DefaultPartitioner()(COMMUNITY.encode(), every, every)
    placed = (hashed + 1) % stack.partitions  # anywhere but where hashing would put it
    stack.extra_env["DISPATCH_COMMUNITY_PARTITIONS"] = json.dumps({COMMUNITY: placed})
    stack.start_worker()
    stack.bot_communities.add(COMMUNITY)
    await stack.start_api()
    staff = {"Authorization": "Bearer dev-staff-token"}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        answers = [
            await client.put(f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=staff)
            for h in (builders.helper(hid, COMMUNITY, ["driving"]) for hid in ("p1", "p2"))
        ]
        assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
        r = await BotClient(client).post("/v1/requests", builders.request(COMMUNITY))
        assert r.status_code == 202, r.text
        request_id = r.json()["request_id"]

        async def offered() -> dict[str, object] | None:
            resp = await BotClient(client).get(f"/v1/requests/{request_id}")
            return resp.json() if resp.status_code == 200 and resp.json()["offers_sent"] else None

        await eventually(offered, what="the first offer of the placed community's request")

    # Everything written so far (a few seconds' read; far fewer records than `until`).
    commands = await read_topic(
        stack.kafka_bootstrap, stack.topic("commands"), until=10**6, timeout=5
    )
    events = await read_topic(stack.kafka_bootstrap, stack.topic("events"), until=10**6, timeout=5)
    ours = [r for r in commands + events if r.key == COMMUNITY.encode()]
    assert len([r for r in commands if r.key == COMMUNITY.encode()]) >= 3  # 2 helpers, 1 request
    assert any(b'"offers_sent"' in r.value for r in events)
    assert {r.partition for r in ours} == {placed}
