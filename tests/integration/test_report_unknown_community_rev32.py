"""Review 32: a misspelt community is refused (CLI: one line, exit 2; API: 404), not shown
as a quiet month; a community known only by its roster, or with nothing this month, still
gets its (empty) report."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta, timezone

import asyncpg
import httpx
import pytest

from dispatcher.record.projection import record_events
from dispatcher.testing.stack import LocalStack
from schemas.vocab import Skill
from tests.unit.conftest import COMMUNITY, World

STAFF = {"Authorization": "Bearer dev-staff-token"}
LOCAL = timezone(timedelta(hours=8))
ROSTER_ONLY = "rev32-roster-only"
MISSPELT = COMMUNITY + "x"


@pytest.fixture(scope="module")
async def month(stack: LocalStack) -> str:
    """COMMUNITY with one request; ROSTER_ONLY listed by a ledger, nobody recorded yet."""
    w = World()
    w.helper("driver-a", skills=[Skill.DRIVING])
    w.submit("req-rev32")
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await record_events(conn, w.events)
        await conn.execute(
            "INSERT INTO roster_members (community_id, helper_id, listed_at) "
            "VALUES ($1, 'r-1', now())",
            ROSTER_ONLY,
        )
    finally:
        await conn.close()
    return w.now.astimezone(LOCAL).strftime("%Y-%m")


def _report(stack: LocalStack, community: str, month: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatcher", "report", "--community", community, "--month", month],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_cli_refuses_an_unknown_community(stack: LocalStack, month: str) -> None:
    out = _report(stack, MISSPELT, month)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr == f"report: unknown community {MISSPELT!r}\n" and out.stdout == ""
    known = _report(stack, COMMUNITY, month)
    assert known.returncode == 0, known.stderr
    assert f"community {COMMUNITY} — {month}" in known.stdout
    quiet = _report(stack, ROSTER_ONLY, "2020-01")  # known, nothing that month: zeros
    assert quiet.returncode == 0, quiet.stderr
    assert "(none)" in quiet.stdout


async def test_the_api_answers_404_for_an_unknown_community(stack: LocalStack, month: str) -> None:
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
        missing = await api.get(f"/ops/v1/reports/{MISSPELT}/{month}", headers=STAFF)
        assert missing.status_code == 404, missing.text
        assert missing.json()["detail"] == f"unknown community {MISSPELT!r}"
        csv_missing = await api.get(
            f"/ops/v1/reports/{MISSPELT}/{month}", params={"format": "csv"}, headers=STAFF
        )
        assert csv_missing.status_code == 404
        known = await api.get(f"/ops/v1/reports/{COMMUNITY}/{month}", headers=STAFF)
        assert known.status_code == 200, known.text
        assert known.json()["total"]["requests"] == 1
        roster = await api.get(f"/ops/v1/reports/{ROSTER_ONLY}/2020-01", headers=STAFF)
        assert roster.status_code == 200 and roster.json()["total"]["requests"] == 0
