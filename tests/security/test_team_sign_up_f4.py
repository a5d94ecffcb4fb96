"""Attacks on a team leader's accept found by review 31 (regteams), through the real parts:
a count of members above the team's size (the form from before names) would hold slots
nobody fills; a leader signing up a member who declined the request or is away would
hand them the requester's contact; a member ticked by default who is assigned already
made the core refuse the whole accept and burnt the leader's one-use link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.links import helper_link
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support.held_ends import resolve
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.private_phones import phones_with_rosters, pushes
from tests.support.team_offers import offer_of, team_offer
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
A = "f4-team"
HEADER = "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
ROSTER = HEADER + (
    "f4-leader,陈队长,13800000401,c1,图强小区,g1,5号楼,搬运,否,志愿者,帮帮团(队长)\n"
    "f4-m1,吴师傅,13800000402,c1,图强小区,g1,5号楼,搬运,否,志愿者,帮帮团\n"
    "f4-m2,赵师傅,13800000403,c1,图强小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
)


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_with_rosters(stack, [(A, ROSTER, 3)]) as receiver:
        yield receiver


@pytest.fixture(scope="module")
async def api(stack: LocalStack, phones: PushReceiver) -> LocalStack:
    return stack


async def test_a_count_above_the_team_size_is_refused_and_holds_nothing(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, path = await team_offer(api, client, db, A, "f4-leader", 6)
    assert "共3人" in (await client.get(path)).text
    answer = await client.post(path, data={"members": "6"})  # no `named`: the old form
    assert answer.status_code == 422 and "最多去3位" in answer.text, answer.text
    assert await db.fetchval("SELECT count(*) FROM assignments WHERE request_id = $1", rid) == 0
    # Acting on nothing: the link still takes a count the team has.
    answer = await press(client, path, data={"members": "3"})
    assert answer.status_code == 200, answer.text

    async def held() -> list[tuple[str, int]] | None:
        rows = await db.fetch(
            "SELECT helper_id, helpers_assigned FROM assignments JOIN requests USING "
            "(request_id) WHERE request_id = $1",
            rid,
        )
        return [(r["helper_id"], r["helpers_assigned"]) for r in rows] or None

    assert await eventually(held, what="the leader assigned") == [("f4-leader", 3)]
    assert await db.fetchval("SELECT status FROM requests WHERE request_id = $1", rid) == "open"
    # The request ends (resolved): f4-leader, who went in person, is offered the next tests'.
    await resolve(client, db, rid)


def ticked(page: str) -> list[tuple[str, str]]:
    """The leader's checklist: (member, " checked" or "")."""
    return re.findall(r'name="member" value="([^"]+)"( checked)?', page)


async def answered(client: httpx.AsyncClient, path: str, form: dict[str, object]) -> str:
    """The page a press ends on: while the worker decides (202), the page it refreshes to."""
    r = await press(client, path, data=form)
    assert r.status_code == 200, r.text
    return r.text


async def going(db: asyncpg.Connection, rid: str) -> list[str]:
    rows = await db.fetch("SELECT helper_id FROM assignments WHERE request_id = $1", rid)
    return sorted(r["helper_id"] for r in rows)


async def test_an_assigned_member_is_left_off_and_a_refusal_for_them_reopens_the_link(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, path = await team_offer(api, client, db, A, "f4-leader", 3)
    # f4-m1 lives in the request's building: an offer of their own, accepted first.
    m1 = offer_path(api, A, rid, await offer_of(db, rid, "f4-m1"), "f4-m1")
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as phone:
        await phone.get(m1)
        assert (await phone.post(m1)).status_code in (200, 202)
    await eventually(
        lambda: db.fetchval(
            "SELECT 1 FROM assignments WHERE request_id = $1 AND helper_id = 'f4-m1'", rid
        ),
        what="f4-m1 assigned",
    )
    assert ticked((await client.get(path)).text) == [("f4-m2", " checked")]
    # A form opened before f4-m1 accepted still names them: the core refuses the accept,
    # nothing is done, and the leader is told why and may choose again.
    page = await answered(client, path, {"named": "1", "member": ["f4-m1", "f4-m2"]})
    assert "无法处理" in page and "吴师傅已经接下了这次求助" in page, page
    assert await going(db, rid) == ["f4-m1"]
    assert ticked((await client.get(path)).text) == [("f4-m2", " checked")]
    page = await answered(client, path, {"named": "1", "member": ["f4-m2"]})
    assert "无法处理" not in page, page
    assert await going(db, rid) == ["f4-leader", "f4-m1", "f4-m2"]
    # Now the link has its one answer: a replay changes nothing and is refused nothing.
    page = await answered(client, path, {"named": "1", "member": ["f4-m1"]})
    assert "无法处理" not in page and await going(db, rid) == ["f4-leader", "f4-m1", "f4-m2"]
    refusals = "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'command_rejected'"
    assert await db.fetchval(refusals, rid) == 1
    await resolve(client, db, rid)  # the three who went are free again for the next test


async def test_a_member_who_declined_or_is_away_is_not_signed_up(
    api: LocalStack, phones: PushReceiver, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, path = await team_offer(api, client, db, A, "f4-leader", 3)
    no = offer_path(api, A, rid, await offer_of(db, rid, "f4-m1"), "f4-m1", action="decline")
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as phone:
        await phone.get(no)
        assert (await phone.post(no)).status_code in (200, 202)
        personal = httpx.URL(helper_link(api.settings(), helper_id="f4-m2", community_id=A))
        assert (await phone.post(f"{personal.raw_path.decode()}/away")).status_code == 200
        f4_m2s_phone = phone.cookies  # the link is now bound to this phone (session 39)
    await eventually(
        lambda: db.fetchval(
            "SELECT 1 FROM offers WHERE request_id = $1 AND helper_id = 'f4-m1'"
            " AND status = 'declined'",
            rid,
        ),
        what="f4-m1 declined",
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT 1 FROM event_log WHERE type = 'helper_updated' AND body->>'helper_id' = 'f4-m2'"
            " AND (body->>'away')::boolean"
        ),
        what="f4-m2 away",
    )
    # f4-m1 declined, f4-m2 is away: neither listed. Named anyway, the core refuses them.
    checklist = (await client.get(path)).text
    assert ticked(checklist) == [] and "已婉拒或暂时不便" in checklist, checklist
    page = await answered(client, path, {"named": "1", "member": ["f4-m1"]})
    assert "吴师傅已婉拒这次求助" in page, page
    page = await answered(client, path, {"named": "1", "member": ["f4-m2"]})
    assert "赵师傅目前外出或忙碌" in page, page
    assert await going(db, rid) == []
    page = await answered(client, path, {"named": "1"})  # the leader goes alone
    assert "无法处理" not in page and await going(db, rid) == ["f4-leader"]
    # Neither member was handed the requester's contact.
    assert not [
        p
        for m in ("f4-m1", "f4-m2")
        for p in pushes(phones, "assignment", m)
        if p["request_id"] == rid
    ]
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, cookies=f4_m2s_phone) as phone:
        assert (await phone.post(f"{personal.raw_path.decode()}/back")).status_code == 200
