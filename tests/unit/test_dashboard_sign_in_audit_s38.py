"""A dashboard sign-in is staff access (a 12-hour session): like every authenticated staff
request it is a `staff_audit` row, and with PostgreSQL out of reach it is refused (503
`database_unavailable`), no session issued unaudited (session 38's audit: it wrote no row
and succeeded with PostgreSQL down). The page names the account it is signed in as and
offers a sign-out."""

from __future__ import annotations

from typing import Any

import httpx

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.settings import Settings
from tests.unit.test_api_clock import RecordingSink


class Pool:
    """PostgreSQL as the audit sees it: reachable (rows kept) or refusing connections."""

    def __init__(self, down: bool) -> None:
        self.down = down
        self.rows: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        if self.down:
            raise ConnectionRefusedError("connection refused")
        self.rows.append((sql, args))
        return "INSERT 0 1"


def client(pool: Pool) -> httpx.AsyncClient:
    settings = Settings(staff_token="s3cret")  # type: ignore[arg-type]
    deps = ApiDeps(settings=settings, sink=RecordingSink(), _pool=pool)
    app = create_app(settings, deps)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_sign_in_is_a_staff_audit_row() -> None:
    pool = Pool(down=False)
    async with client(pool) as c:
        r = await c.post("/dashboard/login", data={"token": "s3cret"})
        assert r.status_code == 303 and "set-cookie" in r.headers
    ((sql, args),) = pool.rows
    assert sql.startswith("INSERT INTO staff_audit")
    assert args == ("staff-token", "POST", "/dashboard/login", None)


async def test_a_wrong_token_is_no_audit_row() -> None:
    pool = Pool(down=False)
    async with client(pool) as c:
        assert (await c.post("/dashboard/login", data={"token": "wrong"})).status_code == 401
    assert pool.rows == []


async def test_no_session_is_issued_unaudited_while_postgresql_is_away() -> None:
    async with client(Pool(down=True)) as c:
        r = await c.post("/dashboard/login", data={"token": "s3cret"})
        assert r.status_code == 503, r.text
        assert r.json()["detail"]["reason"] == "database_unavailable"
        assert "set-cookie" not in r.headers
        assert "Retry-After" in r.headers
        assert "Staff token" in (await c.get("/dashboard")).text  # still the sign-in form


async def test_the_page_names_its_account_and_can_sign_out() -> None:
    async with client(Pool(down=False)) as c:
        await c.post("/dashboard/login", data={"token": "s3cret"})
        page = (await c.get("/dashboard")).text
        assert 'id="who-name"' in page
        assert 'action="/dashboard/logout"' in page
        session = (await c.get("/ops/v1/session")).json()
        assert session["staff"] == "staff-token"  # what the page shows there
        r = await c.post("/dashboard/logout")
        assert r.status_code == 303
        assert (await c.get("/ops/v1/session")).status_code == 401
