"""The helpers' own messages through the real parts: `python -m dispatcher welcome` →
commands on Kafka → worker → a private push (with the personal page link) to a real local
receiver, once; "done" on the assignment page → a thank-you push; `python -m dispatcher
summary --month` → each helper's month, once per month."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from schemas.helper_messages import WelcomeHelper
from tests.support import builders
from tests.support.cli import run_cli
from tests.support.kafka import CommandProducer
from tests.support.link_answers import confirming, press
from tests.support.private_phones import ROBOT, phones_and_robot, pushes
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
WELCOME = "hm-welcome"
LOOP = "hm-loop"


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_and_robot(stack) as receiver:
        yield receiver


async def put_helper(client: httpx.AsyncClient, helper_id: str, community: str, **kw: Any) -> None:
    body = builders.helper(helper_id, community, ["driving"], channels=["phones"]) | kw
    r = await client.put(f"/v1/admin/helpers/{helper_id}", json=body, headers=STAFF)
    assert r.status_code == 202, r.text


async def recorded(conn: asyncpg.Connection, community: str, n: int) -> None:
    async def count() -> bool:
        got = await conn.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", community)
        return int(got) >= n

    await eventually(count, what=f"{n} helpers recorded in {community}")


async def cli(stack: LocalStack, *args: str) -> tuple[dict[str, Any], str]:
    return await run_cli(stack, *args, "--wait", "60")


async def test_welcome_reaches_each_helper_privately_once_with_their_page(
    stack: LocalStack, phones: PushReceiver
) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        await put_helper(client, "w-ann", WELCOME, name="林阿姨")
        await put_helper(client, "w-bo", WELCOME)
        # Reachable only through a group robot: the link must not go there.
        await put_helper(client, "w-grp", WELCOME, channels=["wecom:grid-robot"])
        await recorded(conn, WELCOME, 3)

        result, progress = await cli(stack, "welcome", "--community", WELCOME)
        # w-grp has no private channel: reported by id (never a phone), not welcomed.
        assert result == {
            "community_id": WELCOME,
            "to_welcome": 3,
            "welcomed": 2,
            "no_private_channel": ["w-grp"],
        }
        assert "3/3 queued" in progress and "3/3 recorded" in progress
        assert "1 helper(s) have no private channel: w-grp" in progress
        assert not re.search(r"1[3-9]\d{9}", progress)  # no phone number in the report
        await phones.wait_for(
            lambda: bool(pushes(phones, "welcome", "w-ann") and pushes(phones, "welcome", "w-bo")),
            timeout=30,
        )
        ann = pushes(phones, "welcome", "w-ann")[0]
        assert "林阿姨" in ann["text"] and ann["personal_url"] in ann["text"]
        page_path = urlparse(ann["personal_url"]).path
        page = await client.get(page_path)
        assert page.status_code == 200 and "免打扰" in page.text and "我能提供的帮助" in page.text
        assert 'value="webhook:phones"' in page.text and "grid-robot" not in page.text
        # On the page: she offers plumbing now (not driving), reached on her phone.
        chosen = {"skills": ["plumbing"], "channel": "webhook:phones"}
        saved = await client.post(f"{page_path}/offer", data=chosen)
        assert saved.status_code == 200 and "水管维修" in saved.text, saved.text
        robot = await client.post(
            f"{page_path}/offer", data=chosen | {"channel": "wecom:grid-robot"}
        )
        assert robot.status_code == 422  # a group robot is nobody's own channel
        pipe = builders.request(
            WELCOME, source=None, urgency="normal", category="repair", skills=["plumbing"]
        )
        r = await client.post("/v1/requests", json=pipe, headers=STAFF)
        assert r.status_code == 202, r.text
        await phones.wait_for(
            lambda: any(
                o["request_id"] == r.json()["request_id"] for o in pushes(phones, "offer", "w-ann")
            ),
            timeout=30,
        )
        assert not pushes(phones, "offer", "w-bo")  # a driver: not asked to fix a pipe
        # The other helper's link is another page (their own id in a sealed token).
        assert pushes(phones, "welcome", "w-bo")[0]["personal_url"] != ann["personal_url"]

        # Nothing went to the group robot: not the link, not the welcome.
        group = json.dumps([m.json() for m in phones.for_path(ROBOT)], ensure_ascii=False)
        assert "/l/h/" not in group and "欢迎" not in group

        # Run again: nobody left to welcome. A repeated command straight onto Kafka is a
        # no-op in the core: a later helper's welcome (same partition, after it) arrives
        # and w-ann still has exactly one.
        again, _ = await cli(stack, "welcome", "--community", WELCOME)
        assert again == {
            "community_id": WELCOME,
            "to_welcome": 1,
            "welcomed": 0,
            "no_private_channel": ["w-grp"],
        }
        # Once w-grp has a private channel, the next run welcomes them (and only them).
        # (Its upsert and the welcome share the community's partition: applied in order.)
        await put_helper(client, "w-grp", WELCOME, channels=["phones"])
        third, _ = await cli(stack, "welcome", "--community", WELCOME)
        assert third == {"community_id": WELCOME, "to_welcome": 1, "welcomed": 1}
        await phones.wait_for(lambda: bool(pushes(phones, "welcome", "w-grp")), timeout=30)
        fourth, _ = await cli(stack, "welcome", "--community", WELCOME)
        assert fourth == {"community_id": WELCOME, "to_welcome": 0, "welcomed": 0}
        async with CommandProducer(
            stack.kafka_bootstrap, stack.env()["DISPATCH_COMMANDS_TOPIC"]
        ) as producer:
            await producer.send(WelcomeHelper(helper_id="w-ann"), WELCOME)
            await put_helper(client, "w-cy", WELCOME)
            await recorded(conn, WELCOME, 4)
            await producer.send(WelcomeHelper(helper_id="w-cy"), WELCOME)
        await phones.wait_for(lambda: bool(pushes(phones, "welcome", "w-cy")), timeout=30)
        assert len(pushes(phones, "welcome", "w-ann")) == 1
        assert phones.duplicates == 0
    await conn.close()


def button(page: str, step: str) -> str:
    m = re.search(rf'action="(/l/o/[^"]+/p/{step})"', page)
    assert m, f"no {step} button on the page"
    return m.group(1)


async def test_done_brings_a_thank_you_and_the_month_summary_goes_once(
    stack: LocalStack, phones: PushReceiver
) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        await put_helper(client, "l-dan", LOOP)
        await put_helper(client, "l-eve", LOOP, place=builders.place(LOOP, building="b9"))
        await recorded(conn, LOOP, 2)
        body = builders.request(LOOP, source=None, urgency="normal")
        r = await client.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        await phones.wait_for(lambda: bool(pushes(phones, "offer", "l-dan")), timeout=30)
        offer = next(o for o in pushes(phones, "offer", "l-dan") if o["request_id"] == rid)
        # The accepted page (on the press, or the page it refreshes to after a 202).
        accepted = await press(client, urlparse(offer["accept_url"]).path)
        assert accepted.status_code == 200, accepted.text
        # Done (200), or 202 "confirming" if the worker took longer than the API's wait:
        # the thank-you and the recorded minutes below are waited for either way.
        done = await client.post(button(accepted.text, "done"), data={"minutes": "75"})
        assert done.status_code == 200 or confirming(done), done.text

        await phones.wait_for(lambda: bool(pushes(phones, "thank_you", "l-dan")), timeout=30)
        thanks = pushes(phones, "thank_you", "l-dan")
        assert len(thanks) == 1 and "1小时15分钟" in thanks[0]["text"]

        async def completed() -> bool:
            return bool(
                await conn.fetchval(
                    "SELECT minutes_spent FROM assignments WHERE request_id = $1", rid
                )
            )

        await eventually(completed, what="the done recorded")
        month = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
        result, progress = await cli(stack, "summary", "--community", LOOP, "--month", month)
        assert result == {"community_id": LOOP, "month": month, "to_send": 1, "sent": 1}
        assert "1/1 recorded" in progress
        await phones.wait_for(lambda: bool(pushes(phones, "summary", "l-dan")), timeout=30)
        [summary] = pushes(phones, "summary", "l-dan")
        assert "帮助了1次" in summary["text"] and "1小时15分钟" in summary["text"]
        assert summary["month"] == month and summary["minutes"] == "75"
        assert not pushes(phones, "summary", "l-eve")  # helped nobody: not without --everyone

        again, _ = await cli(stack, "summary", "--community", LOOP, "--month", month)
        assert again["to_send"] == 0
        everyone, _ = await cli(
            stack, "summary", "--community", LOOP, "--month", month, "--everyone"
        )
        assert everyone["to_send"] == 1  # l-eve only; l-dan had this month's already
        await phones.wait_for(lambda: bool(pushes(phones, "summary", "l-eve")), timeout=30)
        assert len(pushes(phones, "summary", "l-dan")) == 1
    await conn.close()
