"""A group bot's requester has no phone unless the household ledger gives one, on the real
API and worker (real Kafka and PostgreSQL); callbacks as WeCom builds them (session 41, H7
audit finding 3).

Before: a platform sender's request carried only an id and a name, so a remote helper who
accepted was pushed "（未留电话）" while the group heard "一位邻居已接单，将电话联系指导。"
and "一位邻居正在电话联系求助人。", and the first reply "请保持电话畅通": a call nobody could
make. And a sender the bot's member map ties to a household got only the household's id on
the place, not the ledger's phone that a card press of the same household carries.
Now: without a phone the group hears the helper will reach them in the group; a known
sender's request carries the ledger's contact to the helper who accepts (and then the call
is promised again).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.integration.test_platform_wecom import WeCom
from tests.support import builders
from tests.support import platform_flow as flow
from tests.support.households import upload_households
from tests.support.remote_accept import ask_and_accept

TECH = "我手机不会用微信视频，谁能教我一下？"  # tech help: a helper guiding by phone
HOUSEHOLDS = (
    "小区编号,小区,网格,楼栋,单元,户号,户主,电话,标签,年龄,结对\n"
    "c1,图强小区,g1,3号楼,2,502,王阿婆,13912345678,,,\n"
)
KNOWN, HOUSEHOLD, LEDGER_PHONE = "resident-wang", "hh-c1-b3-2-502", "13912345678"
PROMISES = ("将电话联系", "电话联系求助人", "电话畅通")


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    members = {KNOWN: {"household_id": HOUSEHOLD}}
    async for running in flow.start(stack, WeCom, members=members):
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
            tk = builders.helper("tk", running.community, ["tech_help"], channels=["phones"])
            r = await client.put("/v1/admin/helpers/tk", json=tk, headers=flow.STAFF)
            assert r.status_code == 202, r.text
        await upload_households(stack, running.community, HOUSEHOLDS)
        yield running


def _pushed(run: flow.Running, rid: str, kind: str) -> list[dict[str, Any]]:
    return flow.pushed_to(run, rid, "tk", kind)


async def _tk_accepts_and_calls(
    run: flow.Running, client: httpx.AsyncClient, group: str, sender: str
) -> tuple[str, str]:
    """`sender` asks in `group`; tk (tech help: remote) accepts and presses 正在打电话.
    The request id and the first reply."""
    rid, reply, accepted = await ask_and_accept(run, client, TECH, group, sender, "tk")
    calling = re.search(r'action="(/l/o/[^"]+/p/on-my-way)"', accepted)
    assert calling, accepted
    pressed = await client.post(calling[1])
    assert pressed.status_code == 200, pressed.text
    await run.receiver.wait_for(lambda: bool(_pushed(run, rid, "assignment")), timeout=30)
    return rid, reply


async def test_a_sender_with_no_phone_is_never_promised_a_call(run: flow.Running) -> None:
    p, group = run.platform, "g-extra"
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, reply = await _tk_accepts_and_calls(run, client, group, "stranger-1")
    # Old code: "一位邻居已接单，将电话联系指导。" then "一位邻居正在电话联系求助人。"
    await flow.wait_for_text(p, group, "一位邻居已接单，将在群内联系您。")
    await flow.wait_for_text(p, group, "一位邻居正在群内联系求助人。")
    said = p.group_texts(group)
    assert not [t for t in said if any(w in t for w in PROMISES)], said
    assert "电话畅通" not in reply, reply
    # tk was given no number to call.
    assignment = str(_pushed(run, rid, "assignment")[0]["text"])
    assert not re.search(r"1[3-9][0-9]{9}", assignment), assignment


async def test_a_known_household_sender_gets_the_ledgers_phone_to_the_helper(
    run: flow.Running,
) -> None:
    p, group = run.platform, "g-edge"
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, reply = await _tk_accepts_and_calls(run, client, group, KNOWN)
    # Old code: the household's id only; tk was pushed "（未留电话）".
    assignment = str(_pushed(run, rid, "assignment")[0]["text"])
    assert LEDGER_PHONE in assignment and "未留电话" not in assignment, assignment
    # Someone can call her now: the group hears so, and she keeps her phone free.
    await flow.wait_for_text(p, group, "一位邻居已接单，将电话联系指导。")
    assert reply.endswith("请保持电话畅通。"), reply
    # The phone went only to tk: never into the group's texts.
    assert not [t for t in p.group_texts(group) if LEDGER_PHONE in t]
