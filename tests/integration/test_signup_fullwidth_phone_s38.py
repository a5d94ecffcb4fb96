"""The join form through the real parts (audit s38, finding 6): a phone typed in full-width
digits (a Chinese IME in full-width mode: "13８０００００１０２") is the phone 13800000102: a
helper the ledger has is seen `in_roster` and the approval refused, as for the ASCII phone.
Before, `\\d` took the full-width digits and the keyed id and phone digest were another
person's: staff's approval made a second helper of one person (two offers, two slots)."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import signups
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
CSV = "text/csv; charset=utf-8"
A = "s38-fw"
LEDGER = (
    "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
    "s38-a,黄先生,13800000102,c1,图强小区,g1,3号楼,帮忙,否,志愿者,\n"  # an 编号: by digest
    ",林先生,13800000104,c1,图强小区,g1,4号楼,帮忙,否,志愿者,\n"  # no 编号: the keyed id
)
FULL_WIDTH = {
    "13800000102": "13８０００００１０２",
    "13800000104": "13８ ００００ ０１０４",
}
REGS = f"/v1/staff/communities/{A}/registrations"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.start_worker()  # the roster is the worker's; nothing here is pushed anywhere
    await stack.start_api()
    return stack


async def test_a_full_width_phone_of_a_roster_helper_is_in_the_roster_as_the_ascii_one(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    r = await client.post(
        f"/v1/admin/communities/{A}/roster",
        content=LEDGER.encode(),
        headers={**STAFF, "content-type": CSV},
    )
    assert r.status_code == 200 and r.json()["imported"] == 2, r.text
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) = 2 FROM helpers WHERE community_id = $1 AND active", A
        ),
        what="both ledger helpers on the roster",
    )
    path = signups.join_path(api, A)
    for ascii_phone, typed in FULL_WIDTH.items():
        for name, phone in (
            (f"ascii-{ascii_phone[-4:]}", ascii_phone),
            (f"fw-{ascii_phone[-4:]}", typed),
        ):
            form = {"name": name, "phone": phone, "building": "3号楼", "channel": ""}
            sent = await client.post(path, data=form)
            assert sent.status_code == 200 and "已提交" in sent.text, sent.text
    listed = await signups.listed(client, A)
    assert len(listed) == 4  # four posts: within the form's burst of 5 per address
    named = {s["display_name"]: s for s in listed}
    for tail in ("0102", "0104"):
        ascii_one, full_width = named[f"ascii-{tail}"], named[f"fw-{tail}"]
        # Staff see the person on the ledger, and one phone, whichever digits were typed.
        assert full_width["in_roster"] is ascii_one["in_roster"] is True, tail
        assert full_width["helper_id"] == ascii_one["helper_id"], tail  # one keyed id
        assert full_width["same_phone"] == ascii_one["same_phone"] == 2, tail
        assert full_width["phone_tail"] == ascii_one["phone_tail"] == tail  # stored as ASCII
    text = json.dumps(listed, ensure_ascii=False)
    assert all(p not in text for p in (*FULL_WIDTH, *FULL_WIDTH.values()))
    for s in listed:
        refused = await client.post(f"{REGS}/{s['registration_id']}/approve", headers=STAFF)
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"]["reason"] == "already_in_roster"
    assert await db.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", A) == 2
