"""Inputs a fuzz review sent to the API, in-process (a recording command sink, a fake pool):
each was a 500, a dropped connection or a worker crash, and is now a clear refusal.

- a helper's quiet hours with a UTC offset (`00:00+14:00`) or not HH:MM;
- a dashboard session with a non-ASCII `X-CSRF-Token` or an unparsable `Origin`;
- a report for a Chinese community id, or a month with a trailing newline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from typing import Any

import httpx
import pytest

from dispatcher.api import ops_pages
from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.links import helper_link
from dispatcher.ops.reports import MonthReport
from dispatcher.settings import Settings
from schemas.commands import Command, SetDoNotDisturb
from schemas.helpers import TimeWindow
from tests.unit.test_api_clock import RecordingSink

STAFF = "s3cret"
FORM = {"content-type": "application/x-www-form-urlencoded"}


class AuditPool:
    """Takes the staff audit rows (`staff_audit`) and answers the personal link's roster
    check (the helper is active) and its binding: the only statements these routes run."""

    async def execute(self, sql: str, *args: Any) -> str:
        assert sql.startswith("INSERT INTO staff_audit"), sql
        return "INSERT 0 1"

    async def fetchval(self, sql: str, *args: Any) -> Any:
        assert sql.startswith("SELECT active FROM helpers"), sql
        return True

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        """The personal link's binding (s39): none held, so each press binds anew."""
        if sql.startswith("SELECT link_expires"):
            return None
        assert sql.startswith("INSERT INTO helper_link_bindings"), sql
        return {"link_expires": args[2], "device_hash": args[3]}


class Api:
    def __init__(self) -> None:
        self.settings = Settings(staff_token=STAFF)
        self.sink = RecordingSink()
        self.pool = AuditPool()  # the report's own reads: `month_report`, replaced below
        self.deps = ApiDeps(settings=self.settings, sink=self.sink, _pool=self.pool)
        transport = httpx.ASGITransport(app=create_app(self.settings, self.deps))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://t")

    def commands(self) -> list[Command]:
        return [Command.model_validate_json(v) for v in self.sink.sent]


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    a = Api()
    async with a.client:
        yield a


def _helper_path(api: Api) -> str:
    link = helper_link(api.settings, helper_id="h1", community_id="c1")
    return httpx.URL(link).path


# Never a valid HH:MM either (full-width digits, no 24th hour), refused by the old parser
# too: checked alongside each attack.
ALSO_REFUSED = (b"start=%EF%BC%92%EF%BC%92:00&end=07:00", b"start=24:00&end=07:00")


@pytest.mark.parametrize(
    "body",
    [
        b"start=00:00%2B14:00&end=23:59",  # the attack: an offset in the start
        b"start=22:00&end=07:00Z",
        b"start=22:00%2B08:00&end=07:00",
        b"start=22:00:00.123456&end=07:00",
        b"start=22:00:00&end=07:00",
        b"start=2200&end=0700",
        b"start=22&end=07",
    ],
)
async def test_quiet_hours_take_only_a_local_hh_mm(api: Api, body: bytes) -> None:
    url = _helper_path(api) + "/quiet-hours"
    for bad in (body, *ALSO_REFUSED):
        r = await api.client.post(url, content=bad, headers=FORM)
        assert r.status_code == 422, (bad, r.text)
        assert "请用 时:分 填写" in r.text
    assert api.sink.sent == []  # nothing queued for the worker
    # The form's own value is queued as a local time (spaces around it are forgiven).
    r = await api.client.post(url, content=b"start=22:00&end=+07:30+", headers=FORM)
    assert r.status_code == 200 and "22:00 至 07:30" in r.text
    [command] = api.commands()
    assert command.body == SetDoNotDisturb(
        helper_id="h1", window=TimeWindow(start=time(22), end=time(7, 30))
    )


async def _signed_in(api: Api) -> str:
    assert (await api.client.post("/dashboard/login", data={"token": STAFF})).status_code == 303
    csrf = (await api.client.get("/ops/v1/session")).json()["csrf"]
    assert isinstance(csrf, str) and csrf
    return csrf


def _refused_as_csrf(r: httpx.Response) -> None:
    assert r.status_code == 403, r.text
    assert r.json()["detail"]["reason"] == "csrf"


async def test_a_non_ascii_csrf_token_is_refused(api: Api) -> None:
    await _signed_in(api)
    for sent in (b"\xe9", b"\xe9" * 64, "令牌".encode()):
        r = await api.client.post(
            "/ops/v1/requests/r1/claim", json={}, headers=[(b"x-csrf-token", sent)]
        )
        _refused_as_csrf(r)
    assert api.sink.sent == []


async def test_an_unparsable_origin_is_refused(api: Api) -> None:
    csrf = await _signed_in(api)
    for origin in ("http://[", "http://[::1", "http://]x["):
        r = await api.client.post(
            "/ops/v1/requests/r1/claim", json={}, headers={"x-csrf-token": csrf, "origin": origin}
        )
        _refused_as_csrf(r)
    assert api.sink.sent == []


def _report(community_id: str, month: str) -> MonthReport:
    total = {"day": month, "requests": 1, "answered": 1, "answered_rate": 1.0}
    return MonthReport(community_id, month, [], total, [])


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    asked: list[tuple[str, str]] = []

    async def month_report(
        pool: Any, community_id: str, month: str, *, configured: bool = False
    ) -> MonthReport:
        asked.append((community_id, month))
        return _report(community_id, month)

    monkeypatch.setattr(ops_pages, "month_report", month_report)
    return asked


STAFF_BEARER = {"authorization": f"Bearer {STAFF}"}


async def test_a_chinese_community_s_csv_names_its_file_safely(
    api: Api, reports: list[tuple[str, str]]
) -> None:
    r = await api.client.get("/ops/v1/reports/中华/2024-01?format=csv", headers=STAFF_BEARER)
    assert r.status_code == 200, r.text
    disposition = r.headers["content-disposition"]
    assert disposition.isascii()
    assert disposition == (
        'attachment; filename="report-__-2024-01-days.csv"; '
        "filename*=UTF-8''report-%E4%B8%AD%E5%8D%8E-2024-01-days.csv"
    )
    assert reports == [("中华", "2024-01")]
    # An id no community has but a district-wide account may type: quotes, CR LF, `;`.
    odd = "/ops/v1/reports/a%22b%0D%0AX-Evil:%201;%20x/2024-01?format=csv&table=helpers"
    r = await api.client.get(odd, headers=STAFF_BEARER)
    assert r.status_code == 200, r.text
    assert "x-evil" not in r.headers
    assert r.headers["content-disposition"] == (
        'attachment; filename="report-a_b__X-Evil__1__x-2024-01-helpers.csv"; '
        "filename*=UTF-8''report-a%22b%0D%0AX-Evil%3A%201%3B%20x-2024-01-helpers.csv"
    )


# Refused by the old code too (a CR is no final newline; no 13th month; `format` and
# `table` are Query patterns, pydantic's Rust regex, whose `$` is the very end): checked
# alongside each attack.
ALSO_422 = (
    "2024-01%0D%0AX-Evil:%201?format=csv",
    "2024-13?format=csv",
    "2024-01?format=csv%0A",
    "2024-01?format=csv&table=days%0A",
    "2024-01?format=CSV",
)


@pytest.mark.parametrize("month", ["2024-01%0A", "%D9%A2%D9%A0%D9%A2%D9%A4-01"])  # ٢٠٢٤
async def test_a_month_is_only_yyyy_mm(
    api: Api, reports: list[tuple[str, str]], month: str
) -> None:
    for query in (f"{month}?format=csv", f"{month}?format=json", *ALSO_422):
        r = await api.client.get(f"/ops/v1/reports/c1/{query}", headers=STAFF_BEARER)
        assert r.status_code == 422, (query, r.text)
    assert reports == []
    r = await api.client.get("/ops/v1/reports/c1/2024-01?format=csv", headers=STAFF_BEARER)
    assert r.status_code == 200 and reports == [("c1", "2024-01")]
