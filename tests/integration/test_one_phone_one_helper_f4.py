"""One phone, one helper; every sign-up kept (review 31, regteams), through the real parts.

A ledger row with a 编号 keeps that id, while a sign-up's id is keyed from the phone: staff
approving the sign-up of a phone the ledger has made a second helper of one person (two
offers, two slots). The approval is refused now (409 `already_in_roster`), and staff's
list says so before they press. The join form answers a second sign-up for a phone as the
first (it told anyone with an invite whether a number was signed up, and the first to type
a neighbour's number held their place): both are kept, and staff see that they share a
phone by its last four digits, never the number."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import signups
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
CSV = "text/csv; charset=utf-8"
A = "f4-reg"
HEADER = "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
LEDGER = HEADER + (
    "f4-a,陈师傅,13800000501,c1,图强小区,g1,5号楼,搬运,否,志愿者,\n"
    "f4-b,赵师傅,13800000503,c1,图强小区,g1,7号楼,搬运,否,志愿者,\n"
)
PHONE_B = "13800000503"  # f4-b's
REGS = f"/v1/staff/communities/{A}/registrations"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.start_worker()  # the roster is the worker's; nothing here is pushed anywhere
    await stack.start_api()
    return stack


async def ledger(client: httpx.AsyncClient, rows: str, imported: int) -> None:
    r = await client.post(
        f"/v1/admin/communities/{A}/roster",
        content=rows.encode(),
        headers={**STAFF, "content-type": CSV},
    )
    assert r.status_code == 200 and r.json()["imported"] == imported, r.text


def join_path(api: LocalStack, community_id: str = A) -> str:
    return signups.join_path(api, community_id)


async def pending(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return await signups.listed(client, A)


async def test_a_phone_the_ledger_has_is_not_approved_as_a_second_helper(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await ledger(client, LEDGER, 2)
    await eventually(
        lambda: db.fetchval("SELECT active FROM helpers WHERE helper_id = 'f4-b'"),
        what="f4-b on the roster",
    )
    form = {"name": "小赵", "phone": PHONE_B, "building": "7号楼", "channel": ""}
    assert (await client.post(join_path(api), data=form)).status_code == 200
    [signup] = await pending(client)
    assert signup["in_roster"] is True and signup["helper_id"] != "f4-b"
    assert PHONE_B not in json.dumps(signup)
    url = f"{REGS}/{signup['registration_id']}"
    refused = await client.post(f"{url}/approve", headers=STAFF)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"]["reason"] == "already_in_roster"
    assert "f4-b" in refused.json()["detail"]["message"]
    assert await db.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", A) == 2
    [still] = await pending(client)  # undecided: staff may reject it, nothing was sent
    assert still["registration_id"] == signup["registration_id"]
    # Once the ledger no longer lists f4-b (retired), the phone is free for the sign-up.
    await ledger(client, HEADER + LEDGER.splitlines(keepends=True)[1], 1)
    approved = await client.post(f"{url}/approve", headers=STAFF)
    assert approved.status_code == 200, approved.text


async def test_every_sign_up_is_kept_and_answered_alike_and_staff_see_a_shared_phone(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    path = join_path(api)
    form = {"name": "王阿姨", "phone": "13800000577", "building": "3号楼", "channel": ""}
    first = await client.post(path, data=form)
    squatter = await client.post(path, data=form | {"name": "别人"})
    never_seen = await client.post(path, data=form | {"name": "李叔叔", "phone": "13800000588"})
    assert first.status_code == squatter.status_code == never_seen.status_code == 200
    assert first.text == squatter.text == never_seen.text and "已提交" in first.text
    listed = await pending(client)
    assert {s["display_name"]: (s["same_phone"], s["phone_tail"]) for s in listed} == {
        "王阿姨": (2, "0577"),
        "别人": (2, "0577"),
        "李叔叔": (1, "0588"),
    }
    assert "13800000577" not in json.dumps(listed) and "13800000588" not in json.dumps(listed)


async def test_two_sign_ups_of_one_phone_are_never_both_approved(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Review 32: both share the keyed id, and the second approval was checked against the
    helpers table only, which the worker writes a moment later: the second person's
    profile then replaced the first's. Back to back, and at once."""
    path = join_path(api)
    # From an address of its own: the join form allows an address 5 sign-ups at once.
    own = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=api.api_url, transport=own, timeout=30) as residents:
        for phone in ("13800000597", "13800000598"):
            form = {"name": "王阿姨", "phone": phone, "building": "3号楼", "channel": ""}
            for name in ("王阿姨", "冒名者"):
                signed = await residents.post(path, data=form | {"name": name})
                assert signed.status_code == 200, signed.text
    listed: dict[str, list[str]] = {}
    ids = []
    for s in await pending(client):
        if s["phone_tail"] in ("0597", "0598"):
            ids.append(s["registration_id"])
            listed.setdefault(s["phone_tail"], []).append(f"{REGS}/{ids[-1]}/approve")
    first, second = listed["0597"]
    assert (await client.post(first, headers=STAFF)).status_code == 200
    again = await client.post(second, headers=STAFF)
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "already_in_roster"
    together = await asyncio.gather(*(client.post(u, headers=STAFF) for u in listed["0598"]))
    assert sorted(r.status_code for r in together) == [200, 409], [r.text for r in together]
    decided = await db.fetch(
        "SELECT status, count(*) AS n FROM helper_registrations"
        " WHERE registration_id = ANY($1) GROUP BY status ORDER BY status",
        ids,
    )
    assert [(r["status"], r["n"]) for r in decided] == [("approved", 2), ("pending", 2)]
