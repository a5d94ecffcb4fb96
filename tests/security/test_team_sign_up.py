"""Attacks on a team leader's sign-up of members (issue 14 item 5), through the real parts:
a leader naming someone outside the team, a helper of another community in a team of the
same name, or a made-up id, is refused by the core and nobody is assigned (so no contact
goes anywhere); a member's phone cannot act on another member's link, nor an edited one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support.link_answers import press
from tests.support.private_phones import phones_with_rosters, pushes
from tests.support.team_offers import team_offer
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
A, B = "team-a", "team-b"
HEADER = "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
ROSTER_A = HEADER + (
    "ta-leader,陈队长,13800000201,c1,图强小区,g1,5号楼,搬运,否,志愿者,帮帮团(队长)\n"
    "ta-m1,吴师傅,13800000202,c1,图强小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
    "ta-m2,赵师傅,13800000203,c1,图强小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
    "ta-other,钱师傅,13800000204,c1,图强小区,g1,7号楼,搬运,否,志愿者,红管家\n"
)
# Another community's helper in a team of the same name.
ROSTER_B = HEADER + "tb-m1,孙师傅,13800000205,c1,别的小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
REQUESTER_PHONE = "13912345678"  # builders.request's contact


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_with_rosters(stack, [(A, ROSTER_A, 4), (B, ROSTER_B, 1)]) as receiver:
        yield receiver


@pytest.fixture(scope="module")
async def api(stack: LocalStack, phones: PushReceiver) -> LocalStack:
    return stack


async def test_a_leader_cannot_sign_up_anyone_outside_the_team(
    api: LocalStack, phones: PushReceiver, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for outsider in ("ta-other", "tb-m1", "ta-nobody", "ta-leader"):
        rid, path = await team_offer(api, client, db, A, "ta-leader", 3)
        # The refusal on the press, or on the page it refreshes to (the press answered 202).
        answer = await press(client, path, data={"named": "1", "member": ["ta-m1", outsider]})
        assert answer.status_code == 200 and "无法处理" in answer.text, (outsider, answer.text)
        assert REQUESTER_PHONE not in answer.text

        async def refused(rid: str = rid) -> str | None:
            return await db.fetchval(  # type: ignore[no-any-return]
                "SELECT body->>'detail' FROM event_log WHERE request_id = $1 "
                "AND type = 'command_rejected' AND body->>'reason' = 'not_a_team_member'",
                rid,
            )

        assert await eventually(refused, what=f"{outsider} refused") == outsider
        assert await db.fetchval("SELECT count(*) FROM assignments WHERE request_id = $1", rid) == 0
        assert not [p for p in pushes(phones, "assignment") if p["request_id"] == rid]


def own_link(phones: PushReceiver, rid: str, helper: str) -> str | None:
    for p in pushes(phones, "assignment", helper):
        if p["request_id"] == rid:
            url = re.search(r"请点：(\S+)", p["text"])
            assert url, p["text"]
            return httpx.URL(url.group(1)).raw_path.decode()
    return None


async def test_a_members_phone_cannot_act_on_another_members_link(
    api: LocalStack, phones: PushReceiver, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, path = await team_offer(api, client, db, A, "ta-leader", 3)
    r = await press(client, path, data={"named": "1", "member": ["ta-m1", "ta-m2"]})
    assert r.status_code == 200, r.text
    await phones.wait_for(lambda: own_link(phones, rid, "ta-m2") is not None, 30)
    await phones.wait_for(lambda: own_link(phones, rid, "ta-m1") is not None, 30)
    m1, m2 = own_link(phones, rid, "ta-m1"), own_link(phones, rid, "ta-m2")
    assert m1 is not None and m2 is not None and m1 != m2
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as phone1:
        confirmed = await press(phone1, m1)  # m1's own phone
        assert confirmed.status_code == 200, confirmed.text
        attacks: list[tuple[str, dict[str, Any]]] = [
            (m2 + "/p/cant-come", {}),
            (m2 + "/p/done", {"data": {"minutes": "600"}}),
            (m2 + "/p/on-my-way", {}),
        ]
        for url, extra in attacks:
            answer = await phone1.post(url, **extra)
            assert answer.status_code == 403, (url, answer.text)
        # An edited link (m1's token with m2's last characters) is no link at all.
        token1, token2 = m1.rsplit("/", 1)[1], m2.rsplit("/", 1)[1]
        forged = m1.rsplit("/", 1)[0] + "/" + token1[:-6] + token2[-6:]
        assert (await phone1.post(forged + "/p/cant-come")).status_code == 400
    row = await db.fetchrow(
        "SELECT released_at, on_way_at, done_at FROM assignments "
        "WHERE request_id = $1 AND helper_id = 'ta-m2'",
        rid,
    )
    assert tuple(row) == (None, None, None)  # m2's assignment untouched
    caused = await db.fetchval(
        "SELECT count(*) FROM event_log WHERE request_id = $1 AND type IN "
        "('helper_withdrawn', 'helper_set_off', 'assignment_completed')",
        rid,
    )
    assert caused == 0
