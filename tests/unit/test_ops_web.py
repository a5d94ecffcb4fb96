"""The ops surface in-process: staff access, /metrics, and what the live feed may show."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.ops.live_feed import PUBLIC_FIELDS, public_view, sse_message
from dispatcher.ops.reports import parse_month
from dispatcher.settings import Settings
from schemas.events import EventBody, HelperAssigned, RequestOpened, make_event
from schemas.places import PlacePath
from schemas.requests import RequesterContact
from tests.unit.test_api_clock import AuditPool


class NullSink:
    async def send(self, topic: str, key: str, value: bytes) -> None: ...

    async def check(self) -> None: ...


def client() -> httpx.AsyncClient:
    settings = Settings(staff_token="s3cret", metrics_token="m3trics")  # type: ignore[arg-type]
    deps = ApiDeps(settings=settings, sink=NullSink(), _pool=AuditPool())
    app = create_app(settings, deps)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_dashboard_trades_the_token_for_an_httponly_cookie() -> None:
    async with client() as c:
        assert "Staff token" in (await c.get("/dashboard")).text
        assert "Staff token" in (await c.get("/dashboard?token=s3cret")).text  # never in a URL
        assert (await c.post("/dashboard/login", data={"token": "wrong"})).status_code == 401
        r = await c.post("/dashboard/login", data={"token": "s3cret"})
        assert r.status_code == 303 and r.headers["location"] == "/dashboard"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        page = await c.get("/dashboard")  # the cookie jar now holds it
        assert "dashboard.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_ops_endpoints_need_the_staff_token() -> None:
    async with client() as c:
        for path in ("/ops/v1/overview", "/ops/v1/stream", "/ops/v1/reports/x/2026-11"):
            assert (await c.get(path)).status_code == 401, path
        assert (await c.get("/ops/v1/overview?token=wrong")).status_code == 401


async def test_metrics_route_counts_by_route_template() -> None:
    async with client() as c:
        await c.get("/healthz")
        assert (await c.get("/metrics")).status_code == 401
        r = await c.get("/metrics", headers={"Authorization": "Bearer m3trics"})
    assert r.status_code == 200
    assert 'dispatch_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text
    assert "_created" not in r.text


def _event(body: EventBody) -> str:
    e = make_event(
        body,
        command_id="c1",
        index=0,
        community_id="x",
        request_id="r1",
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    view = public_view(e)
    assert view is not None
    return sse_message(view)


def test_the_live_feed_never_carries_personal_data() -> None:
    place = PlacePath(community_id="x", building_id="b3", unit="2", household_id="h-9")
    assigned = HelperAssigned(
        offer_id="o1",
        helper_id="helper-42",
        slot=0,
        skills=("driving",),
        remote=False,
        contact=RequesterContact(name="王女士", phone="13912345678", address="3号楼2单元501"),
        place=place,
        text="我身体不舒服",
    )
    frame = _event(assigned)
    for secret in ("王女士", "13912345678", "501", "身体", "helper-42", "h-9"):
        assert secret not in frame
    opened = RequestOpened(
        category="medical",  # type: ignore[arg-type]
        urgency="critical",  # type: ignore[arg-type]
        helpers_needed=1,
        building_label="图强小区 3号楼",
        ladder=(),
        ends_at=datetime(2026, 11, 1, 1, tzinfo=UTC),
    )
    assert "图强" not in _event(opened)
    assert all("helper_id" not in fields for fields in PUBLIC_FIELDS.values())


def test_month_must_be_a_real_month() -> None:
    assert parse_month("2026-11").month == 11
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01"):
        try:
            parse_month(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
