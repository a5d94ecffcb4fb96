"""The whistle (吹哨报到) and the referral rung reach people, through the real stack: a
resident's WeCom group asks for help in a community with no fitting neighbour; the whistle
goes to each recipient of the community's list (grid worker, property, a department), each
message with its own links; the grid worker's 报到 link becomes an event and the resident's
group hears it through its bot's robot; the referral rung reaches the grid worker with a
claim link, and pressing it records who took the request on."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver, server_error
from dispatcher.testing.stack import LocalStack, free_port
from tests.integration.test_platform_wecom import WeCom
from tests.support import platform_flow as flow
from tests.support.staff import DISTRICT, bearer, status_of, write_staff_file
from tests.support.waiting import eventually

COMMUNITY = "plat-wecom-empty"  # the group "g-empty": nobody to offer
C = f"community-{COMMUNITY}"
RECIPIENTS = {
    f"{C}.grid_worker": "/grid-worker",
    f"{C}.property": "/property",
    f"{C}.department.城管": "/dept",
}
LINK = re.compile(r"(报到|认领|接手)：(http://\S+/l/w/\S+)")


def endpoints(receiver: PushReceiver) -> list[dict[str, str]]:
    receiver.set_default("/dept", server_error(400))  # this department's hook is broken
    return [flow.webhook_endpoint(receiver, name, path) for name, path in RECIPIENTS.items()]


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    write_staff_file(stack, {})
    # The API's health view probes the worker's /stats (push outcomes per endpoint).
    port = stack.worker_ports.setdefault("worker-1", free_port())
    stack.extra_env["DISPATCH_WORKER_WEB_URLS"] = json.dumps([f"http://127.0.0.1:{port}"])
    # Critical plan × 0.05: the whistle at once (empty rings are skipped), the referral
    # 6 s later, the end of the ladder 45 s after that.
    async for running in flow.start(stack, WeCom, time_scale=0.05, more_endpoints=endpoints):
        yield running


@pytest.fixture(scope="module")
def api(run: flow.Running) -> LocalStack:
    return run.stack


FIRST_REQUEST = "SELECT request_id FROM requests WHERE community_id = $1"
REPORTED = "SELECT body FROM event_log WHERE request_id = $1 AND type = 'whistle_reported_back'"


def referrals(receiver: PushReceiver, path: str) -> list[dict[str, Any]]:
    return [d for d in pushed(receiver, path, "push.whistle") if "需转介" in d["text"]]


def pushed(receiver: PushReceiver, path: str, kind: str) -> list[dict[str, Any]]:
    return [r.json()["data"] for r in receiver.for_path(path) if r.json()["type"] == kind]


def links_in(text: str) -> dict[str, str]:
    return {word: url for word, url in LINK.findall(text)}


async def test_whistle_report_back_and_referral_claim(
    run: flow.Running, db: asyncpg.Connection
) -> None:
    p, receiver = run.platform, run.receiver
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        text = "8号楼有位老人摔倒了起不来，快来人帮忙"
        r = await run.send(client, p.message(text, f"m-{uuid.uuid4().hex[:12]}", "g-empty"))
        assert r.status_code == 200 and r.json()["is_request"], r.text
        rid = await eventually(
            lambda: db.fetchval(
                "SELECT request_id FROM requests WHERE community_id = $1", COMMUNITY
            ),
            what="the request recorded",
        )

        # The whistle: every recipient, each with links of their own.
        # The broken department hook fails for good; the dashboard's health view says where.
        async def push_outcomes() -> dict[str, dict[str, int]] | None:
            r = await client.get("/ops/v1/health", headers=bearer(DISTRICT))
            found = {p["endpoint"]: p for p in r.json()["push"]}
            dept = found.get(f"{C}.department.城管", {})
            return found if dept.get("failed") and len(found) >= 3 else None

        outcomes = await eventually(push_outcomes, what="push failures per endpoint")
        assert outcomes[f"{C}.department.城管"]["delivered"] == 0
        assert outcomes[f"{C}.grid_worker"]["delivered"] >= 1
        assert outcomes[f"{C}.grid_worker"]["failed"] == 0
        for path in RECIPIENTS.values():
            await receiver.wait_for(
                lambda path=path: bool(pushed(receiver, path, "push.whistle")), timeout=60
            )
        whistles = {path: pushed(receiver, path, "push.whistle")[0] for path in RECIPIENTS.values()}
        links = {path: links_in(w["text"]) for path, w in whistles.items()}
        assert all(set(v) == {"认领", "报到"} for v in links.values()), links
        assert len({v["报到"] for v in links.values()}) == 3  # one per recipient
        assert "请网格员协助" in whistles["/grid-worker"]["text"]
        assert "13912345678" not in str(whistles)

        # The grid worker reports back: an event, and the resident's group hears it.
        report = links["/grid-worker"]["报到"].removeprefix(run.stack.api_url)
        assert (await client.get(report)).status_code == 200
        assert (await client.post(report)).status_code == 200
        back = await eventually(
            lambda: db.fetchrow(REPORTED, rid),
            what="the report-back recorded",
        )
        assert '"grid_worker"' in back["body"]
        await flow.wait_for_text(p, "g-empty", "网格员已报到，正在协助处理。")

        # The referral rung reaches a person: the grid worker (no duty officer configured).
        await receiver.wait_for(
            lambda: any(
                "需转介" in d["text"] for d in pushed(receiver, "/grid-worker", "push.whistle")
            ),
            timeout=60,
        )
        referral = next(
            d for d in pushed(receiver, "/grid-worker", "push.whistle") if "需转介" in d["text"]
        )
        assert not any("需转介" in d["text"] for d in pushed(receiver, "/property", "push.whistle"))
        claim = links_in(referral["text"])["接手"].removeprefix(run.stack.api_url)
        assert (await client.post(claim)).status_code == 200

        async def claimed() -> str | None:
            return (await status_of(client, rid))["claimed_by"]

        who = await eventually(claimed, what="the claim recorded")
        assert who == f"recipient:{C}.grid_worker"
        actions = await db.fetch(
            "SELECT actor, action, via FROM staff_actions WHERE request_id = $1 ORDER BY id", rid
        )
        assert [tuple(a) for a in actions] == [
            (f"recipient:{C}.grid_worker", "report_back", "link"),
            (f"recipient:{C}.grid_worker", "claim", "link"),
        ]
        await flow.wait_for_text(p, "g-empty", "社区工作人员已接手，会尽快联系您。")
