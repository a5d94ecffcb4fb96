"""A household ledger's 结对 names helpers by phone or 编号; through the real API, Kafka,
worker and PostgreSQL:

- a phone written with spaces ("138 0013 8000", how mobiles are usually written and how
  the helper ledger takes them) was split into the "编号" 138, 0013, 8000: the helper was
  never paired and the helper whose 编号 is 8000 was paired instead;
- a phone of a helper whose ledger row states an 编号 was turned into the phone's keyed id,
  which is nobody (the worker dropped the pairing unseen);
- a ref naming nobody was counted as a pairing, with no note.

Now a phone is the helper whose phone digest it is (`helper_phone_keys`, as a sign-up's
approval looks it up) and a ref naming nobody is a cell note, not a pairing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.testing.stack import LocalStack
from tests.integration.test_households_teams import helper_updates
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token", "content-type": "text/csv; charset=utf-8"}
COMMUNITY = "comm-pair-refs"
ROSTER = (
    "编号,姓名,电话,小区编号,小区,网格,楼栋,技能\n"
    "V001,赵六,13700137000,c1,图强小区,g1,3号楼,帮忙\n"
    ",张三,138 0013 8000,c1,图强小区,g1,5号楼,帮忙\n"
    "8000,钱七,13600136000,c1,图强小区,g1,6号楼,帮忙\n"
)
HOUSEHOLDS = (
    "小区编号,小区,网格,楼栋,单元,户号,户主,标签,结对\n"
    "c1,图强小区,g1,3号楼,2,502,王阿婆,独居,138 0013 8000\n"
    "c1,图强小区,g1,3号楼,2,503,钱阿姨,独居,+86 137-0013-7000\n"
    "c1,图强小区,g1,3号楼,2,504,李阿公,独居,13900139000、V999\n"
)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    yield stack


async def test_a_phone_with_spaces_and_a_helper_with_an_id_are_paired_nobody_is_noted(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    r = await client.post(
        f"/v1/admin/communities/{COMMUNITY}/roster", content=ROSTER.encode(), headers=STAFF
    )
    assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    zhang = keyed_helper_id(id_key(api.settings()), COMMUNITY, "13800138000")

    async def on_roster() -> bool:
        return all([await helper_updates(db, h) for h in (zhang, "V001", "8000")])

    await eventually(on_roster, what="the three helpers recorded")
    before = {h: await helper_updates(db, h) for h in (zhang, "V001")}

    r = await client.post(
        f"/v1/admin/communities/{COMMUNITY}/households",
        content=HOUSEHOLDS.encode(),
        headers=STAFF,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 3 and report["committed"]
    # 张三 (by the phone with spaces) and V001 (by phone): two pairings, nothing else.
    assert report["pairings"] == 2, report
    notes = [(c["row"], c["column"], c["error"]) for c in report["cells"]]
    assert [(row, column) for row, column, _ in notes] == [(4, "结对"), (4, "结对")], notes
    assert "尾号9000" in notes[0][2] and "V999" in notes[1][2], notes
    assert "13900139000" not in r.text  # the note names the phone by its last digits

    async def paired() -> bool:
        return all([await helper_updates(db, h) > n for h, n in before.items()])

    await eventually(paired, what="张三 and V001 paired with their households")
