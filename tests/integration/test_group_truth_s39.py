"""What the asking group hears is what happened, on the real API and worker (real Kafka and
PostgreSQL; WeCom callbacks as WeCom builds them). Session 39:

- A request cancelled before any neighbour was offered it: "求助已取消。", not "求助已取消，
  已通知邻居不必前往。" (nobody was told anything; before, every cancellation said so).
- The whistle in a community whose only contact looks after another building (5号楼): for
  a request at 3号楼 nobody of the list is called (the push engine passes the contact over),
  and the group hears so with the community's numbers; before, it heard "已通知社区值班人员
  协助。". For a request at 5号楼 the contact is called and the group hears that.
- The requester's "修好了，谢谢" resolves their request (before: nothing happened).

The group "g-empty" is in a community with no helpers at all: the ladder climbs to the
whistle at once (the critical plan × 0.05, empty rings skipped).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from dispatcher.groupchat.texts import NOBODY_NEAR, WHISTLE_CALLED
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.integration.test_platform_feishu_fixes import events_of
from tests.integration.test_platform_wecom import WeCom
from tests.support import platform_flow as flow
from tests.support.waiting import eventually

GROUP = "g-empty"
COMMUNITY = "plat-wecom-empty"  # the group "g-empty": nobody to offer
KEEPER = "b5-keeper"  # the property's keeper of building 5 only
# Nobody to offer in the community: since a45f3df the whistle says first that no neighbour
# was found near (the immediate reply had said neighbours were coming) and, the fall being
# life-threatening, to call 120 again; then whom it reached, as before.
NOT_NEAR = NOBODY_NEAR + "请立即拨打120急救电话！"
NOBODY = NOT_NEAR + "暂未联系上社区值班人员，请拨打社区电话：社区值班 0571-8888 0000。"
CALLED = NOT_NEAR + WHISTLE_CALLED


def endpoints(receiver: PushReceiver) -> list[dict[str, str]]:
    return [flow.webhook_endpoint(receiver, KEEPER, "/b5-keeper")]


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, WeCom, time_scale=0.05, more_endpoints=endpoints):
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
            doc = {
                "display_name": "空社区",
                "hotlines": [{"label": "社区值班", "number": "0571-8888 0000"}],
                "contacts": [
                    {
                        "role": "property",
                        "name": "5号楼管家",
                        "endpoint": KEEPER,
                        "compound_id": "c9",
                        "building_id": "b5",
                    }
                ],
            }
            r = await client.put(
                f"/v1/admin/config/communities/{COMMUNITY}", json=doc, headers=flow.STAFF
            )
            assert r.status_code == 200, r.text  # 200: the API's own view has it
        yield running


def mid() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def ask(run: flow.Running, client: httpx.AsyncClient, text: str, sender: str) -> str:
    r = await run.send(client, run.platform.message(text, mid(), GROUP, sender))
    assert r.status_code == 200 and r.json()["is_request"], r.text
    return str(r.json()["request_id"])


def whistled(run: flow.Running, request_id: str) -> list[str]:
    return [
        d["text"]
        for r in run.receiver.for_path("/b5-keeper")
        if r.json()["type"] == "push.whistle"
        and (d := r.json()["data"]).get("request_id") == request_id
    ]


async def recorded(run: flow.Running, request_id: str, kind: str) -> list[str]:
    """The request's events in the log once `kind` is among them (the group's text follows
    the worker's event; the record agent's row may come later)."""

    async def found() -> list[str] | None:
        types = await events_of(run, request_id)
        return types if kind in types else None

    return await eventually(found, what=f"{kind} recorded")


async def test_a_whistle_whose_only_contact_is_for_another_building_tells_the_truth(
    run: flow.Running,
) -> None:
    p = run.platform
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        at_b3 = await ask(run, client, "3号楼有位老人摔倒了起不来，快来人帮忙", "resident-3")
        await flow.wait_for_text(p, GROUP, NOBODY)
        await recorded(run, at_b3, "whistle_blown")
        assert not [t for t in p.group_texts(GROUP) if WHISTLE_CALLED in t]

        at_b5 = await ask(run, client, "5号楼有位老人摔倒了起不来，快来人帮忙", "resident-5")
        await flow.wait_for_text(p, GROUP, CALLED)
        await run.receiver.wait_for(lambda: bool(whistled(run, at_b5)), timeout=30)
    # The push engine called the keeper for building 5's request, never for building 3's.
    assert whistled(run, at_b3) == []


async def test_a_request_cancelled_before_anyone_was_offered_it_says_only_that(
    run: flow.Running,
) -> None:
    p = run.platform
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid = await ask(run, client, "7号楼有位老人摔倒了起不来，快来人帮忙", "resident-7")
        r = await run.send(client, p.message("不用了，谢谢", mid(), GROUP, "resident-7"))
        assert r.status_code == 200 and r.json() == {"is_request": False, "cancelled": rid}
        await flow.wait_for_text(p, GROUP, "求助已取消。")

    types = await recorded(run, rid, "request_cancelled")
    assert "offer_sent" not in types and "offers_sent" not in types, types
    assert "求助已取消，已通知邻居不必前往。" not in p.group_texts(GROUP)


async def test_fixed_said_in_the_group_resolves(run: flow.Running) -> None:
    p = run.platform
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid = await ask(run, client, flow.pipe(9), "resident-9")
        r = await run.send(client, p.message("修好了吗？", mid(), GROUP, "resident-9"))
        assert r.status_code == 200, r.text  # a question: closes nothing
        assert not r.json()["is_request"] and not {"resolved", "cancelled"} & set(r.json())
        r = await run.send(client, p.message("修好了，谢谢", mid(), GROUP, "resident-9"))
        assert r.status_code == 200 and r.json() == {"is_request": False, "resolved": rid}
        await flow.wait_for_text(p, GROUP, "求助已解决，谢谢各位邻居！")
