"""The simulation report: HTML with PNG charts, and the dashboard's link to the latest one."""

from __future__ import annotations

from pathlib import Path

import httpx

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.settings import Settings
from dispatcher.simulate.cli import main as simulate_main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class NullSink:
    async def send(self, topic: str, key: str, value: bytes) -> None: ...

    async def check(self) -> None: ...


class AuditRows:
    """Stands in for the staff-audit INSERT (a unit test: no PostgreSQL)."""

    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []

    async def execute(self, sql: str, *args: object) -> str:
        assert sql.startswith("INSERT INTO staff_audit")
        self.rows.append(args)
        return "INSERT 0 1"


def client(reports: Path) -> httpx.AsyncClient:
    settings = Settings(staff_token="s3cret", simulate_reports_dir=reports)  # type: ignore[arg-type]
    deps = ApiDeps(settings=settings, sink=NullSink())
    deps._pool = AuditRows()  # type: ignore[assignment]
    app = create_app(settings, deps)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def test_report_has_the_three_charts_the_table_and_the_json(tmp_path: Path) -> None:
    assert simulate_main(["--days", "2", "--seed", "2", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "simulate-2d-seed2"
    for chart in ("time_to_accept_cdf", "notifications_per_answered", "load_per_helper"):
        assert (folder / f"{chart}.png").read_bytes().startswith(PNG_MAGIC)
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 3
    assert "crit&lt;=2min" in page and "broadcast" in page and "nearest" in page
    assert (tmp_path / "latest.html").read_text(encoding="utf-8") == page
    assert '"policies"' in (folder / "result.json").read_text(encoding="utf-8")


async def test_dashboard_links_to_the_latest_report_for_staff_only(tmp_path: Path) -> None:
    async with client(tmp_path) as c:
        assert (await c.get("/ops/v1/simulation/latest")).status_code == 401
        staff = {"Authorization": "Bearer s3cret"}
        missing = await c.get("/ops/v1/simulation/latest", headers=staff)
        assert missing.status_code == 404
        assert "python -m dispatcher simulate" in missing.text
        (tmp_path / "latest.html").write_text("<p>the report</p>", encoding="utf-8")
        r = await c.get("/ops/v1/simulation/latest", headers=staff)
        assert r.status_code == 200 and r.text == "<p>the report</p>"
        assert "script-src" not in r.headers["content-security-policy"]  # no script at all
        await c.post("/dashboard/login", data={"token": "s3cret"})  # the session cookie
        assert 'href="/ops/v1/simulation/latest"' in (await c.get("/dashboard")).text
