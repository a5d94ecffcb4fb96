"""Roster import through the real parts: a ledger (CSV/XLSX) → UpsertHelper commands → worker
→ PostgreSQL. All-or-nothing unless `partial=true`; a row-by-row report either way."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from openpyxl import Workbook

from dispatcher.testing.stack import LocalStack
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
CSV = "text/csv"
HEADER = "姓名,手机,楼栋,单元,技能,党员,可服务时间\n"
GOOD = HEADER + (
    "张建国,13800000001,3号楼,2,开车、急救,是,工作日晚上\n"
    "李秀英,13800000002,5栋,一单元,护士,否,随时\n"
    "\n"
    "王强,138 0000 0003,12,,水电/搬运,党员,周末全天\n"
)
BAD = HEADER + (
    "赵六,13800000011,3号楼,2,开车,是,随时\n"
    ",13800000012,3号楼,2,开车,是,随时\n"  # no name
    "钱七,12345,3号楼,2,开车,是,随时\n"  # bad phone
    "孙八,13800000014,,2,开飞机,也许,有空\n"  # no building; three cells left out
    "周九,13800000011,4号楼,1,搬运,否,随时\n"  # duplicate phone
)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    yield stack


async def helpers_in(dsn: str, community: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM helpers WHERE community_id = $1", community)
        )
    finally:
        await conn.close()


async def post_ledger(
    client: httpx.AsyncClient, community: str, data: bytes, ctype: str = CSV, **params: str
) -> httpx.Response:
    return await client.post(
        f"/v1/admin/communities/{community}/roster",
        params={"compound_id": "c1", "compound_name": "图强小区", "grid_id": "g1", **params},
        content=data,
        headers={**STAFF, "content-type": ctype},
    )


async def test_valid_csv_is_imported(api: LocalStack, client: httpx.AsyncClient) -> None:
    r = await post_ledger(client, "roster-a", GOOD.encode())
    assert r.status_code == 200, r.text
    report = r.json()
    assert report == {**report, "rows": 3, "valid": 3, "imported": 3, "committed": True}
    assert report["rejected"] == []

    async def three() -> bool:
        return await helpers_in(api.pg_dsn, "roster-a") == 3

    await eventually(three, what="three imported helpers")
    # Re-import is an upsert: still three helpers.
    r = await post_ledger(client, "roster-a", GOOD.encode("gb18030"))  # Excel's GBK CSV
    assert r.status_code == 200 and r.json()["imported"] == 3


async def test_invalid_rows_reject_the_whole_file_unless_partial(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    r = await post_ledger(client, "roster-b", BAD.encode())
    assert r.status_code == 422
    report = r.json()
    assert report["committed"] is False and report["imported"] == 0 and report["valid"] == 1
    by_row = {p["row"]: p["errors"] for p in report["rejected"]}
    assert sorted(by_row) == [3, 4, 5, 6]
    assert len(by_row[5]) == 4 and by_row[5][0].startswith("楼栋:")
    assert any(e.startswith("技能:") and "开飞机" in e for e in by_row[5])
    assert "重复" in by_row[6][0]

    # A later valid import in the same community is a barrier (same partition, in order):
    # once it is recorded, the rejected file's valid row would have been too.
    ok = await post_ledger(
        client, "roster-b", (HEADER + "吴十,13800000099,1号楼,1,跑腿,否,随时\n").encode()
    )
    assert ok.status_code == 200

    async def barrier() -> bool:
        return await helpers_in(api.pg_dsn, "roster-b") >= 1

    await eventually(barrier, what="the barrier helper")
    assert await helpers_in(api.pg_dsn, "roster-b") == 1

    r = await post_ledger(client, "roster-b", BAD.encode(), partial="true")
    assert r.status_code == 200 and r.json()["committed"] and r.json()["imported"] == 1

    async def two() -> bool:
        return await helpers_in(api.pg_dsn, "roster-b") == 2

    await eventually(two, what="the partial import")


async def test_xlsx_dry_run_and_refusals(api: LocalStack, client: httpx.AsyncClient) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "电话", "楼号", "特长", "是否党员"])
    sheet.append(["陈医生", 13800000021, "7号楼", "医生", "是"])
    sheet.append(["林阿姨", "13800000022", "7", "照顾老人、闽南话", "否"])
    buf = io.BytesIO()
    book.save(buf)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = await post_ledger(client, "roster-c", buf.getvalue(), xlsx, dry_run="true")
    assert r.status_code == 200 and r.json()["valid"] == 2 and not r.json()["committed"]
    r = await post_ledger(client, "roster-c", buf.getvalue(), xlsx)
    assert r.status_code == 200 and r.json()["imported"] == 2

    r = await post_ledger(client, "roster-c", "名字\n张三\n".encode())
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "unreadable_ledger"
    r = await post_ledger(client, "roster-c", b"PK\x03\x04garbage", xlsx)
    assert r.status_code == 422
    r = await client.post("/v1/admin/communities/roster-c/roster", content=GOOD.encode())
    assert r.status_code == 401


def test_cli_prints_progress_and_report(api: LocalStack) -> None:
    path = api.root / "ledger.csv"
    rows = "".join(f"邻居{i},139{i:08d},{i % 20 + 1}号楼,1,搬运,否,随时\n" for i in range(1200))
    path.write_text(HEADER + rows, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dispatcher.api.roster_import",
            str(path),
            "--community",
            "roster-d",
            "--compound",
            "c1",
        ],
        env=api.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "rows checked: 500" in done.stderr and "helpers queued: 1200" in done.stderr
    assert '"imported": 1200' in done.stdout


WHOLE = "小区,网格,姓名,手机,楼栋,技能\n"
ROWS = {
    "a1": "图强小区,g1,张一,13900000001,A座,开车\n",
    "a2": "图强小区,g1,张二,13900000002,3幢,护士\n",
    "b1": "中华城,g2,李一,13900000011,综合楼,搬运\n",
}


async def active_helpers(dsn: str, community: str) -> dict[str, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT helper_id, active FROM helpers WHERE community_id = $1", community
        )
        return {r["helper_id"]: r["active"] for r in rows}
    finally:
        await conn.close()


async def test_whole_community_reimport_retires_who_left(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    async def post(*keys: str, **params: str) -> httpx.Response:
        body = WHOLE + "".join(ROWS[k] for k in keys)
        return await client.post(
            "/v1/admin/communities/roster-e/roster",
            params=params,
            content=body.encode(),
            headers={**STAFF, "content-type": CSV},
        )

    first = await post("a1", "a2", "b1")
    assert first.status_code == 200, first.text
    assert first.json()["imported"] == 3 and first.json()["retired"] == []
    assert {c["name"]: c["rows"] for c in first.json()["compounds"]} == {"图强小区": 2, "中华城": 1}

    async def three_active() -> bool:
        return list((await active_helpers(api.pg_dsn, "roster-e")).values()) == [True] * 3

    await eventually(three_active, what="three active helpers")
    dry = await post("a1", "b1", dry_run="true")
    assert dry.status_code == 200 and not dry.json()["committed"]
    (leaving,) = dry.json()["retired"]
    assert leaving["name"] == "张二" and "would be retired" in dry.json()["retirement"]
    assert (await active_helpers(api.pg_dsn, "roster-e"))[leaving["helper_id"]] is True

    # A row rejected: nobody is retired (the bad row may be someone still here).
    bad = (WHOLE + ROWS["a1"] + "图强小区,g1,坏行,123,1号楼,开车\n").encode()
    r = await client.post(
        "/v1/admin/communities/roster-e/roster",
        params={"partial": "true"},
        content=bad,
        headers={**STAFF, "content-type": CSV},
    )
    assert r.status_code == 200 and r.json()["retired"] == []
    assert "nobody retired" in r.json()["retirement"]

    # Only the other compound's ledger: nobody in 图强小区 is touched.
    only_b = await post("b1")
    assert only_b.status_code == 200 and only_b.json()["retired"] == []

    real = await post("a1", "b1")
    assert real.status_code == 200 and [h["name"] for h in real.json()["retired"]] == ["张二"]

    async def retired() -> bool:
        active = await active_helpers(api.pg_dsn, "roster-e")
        return active.get(leaving["helper_id"]) is False and sum(active.values()) == 2

    await eventually(retired, what="张二 deactivated, the others active")

    # Listed again later: back, and not retired twice.
    back = await post("a1", "a2", "b1")
    assert back.json()["retired"] == []

    async def all_back() -> bool:
        return sum((await active_helpers(api.pg_dsn, "roster-e")).values()) == 3

    await eventually(all_back, what="张二 active again")
