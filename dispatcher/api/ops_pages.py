"""The API's operations surface: `/metrics`, the live dashboard, its JSON and SSE feeds,
and monthly reports. `install(app, settings)` is the one hook `create_app` calls."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dispatcher.api import staff_actions, stream_health
from dispatcher.api.auth import (
    SESSION_SECONDS,
    authenticate_staff,
    bearer,
    behind_tls,
    check_credential,
    ensure_staff_scope,
    new_session,
)
from dispatcher.api.staff_accounts import StaffAccount
from dispatcher.api.staff_pages import COOKIE, require_staff_ops, signed_in_staff
from dispatcher.ops import api_metrics
from dispatcher.ops.dashboard_data import overview
from dispatcher.ops.live_feed import LiveFeed, sse_message
from dispatcher.ops.reports import days_csv, helpers_csv, month_report, parse_month
from dispatcher.settings import Settings
from schemas.catalogue import labels as category_labels

STATIC = resources.files("dispatcher.ops") / "static"
LATEST_REPORT = "latest.html"  # written by dispatcher/simulate/report.py
HEARTBEAT_S = 15.0
# The page loads only its own script and style, and talks only to this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page(name: str, status_code: int = 200) -> HTMLResponse:
    html = (STATIC / name).read_text(encoding="utf-8")
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _feed(request: Request) -> LiveFeed:
    feed: LiveFeed = request.app.state.ops_feed
    return feed


public = APIRouter(tags=["ops"], include_in_schema=True)
staff = APIRouter(prefix="/ops/v1", tags=["ops"], dependencies=[Depends(require_staff_ops)])


@public.get("/metrics", summary="Prometheus metrics of this API process", response_class=Response)
async def metrics(request: Request) -> Response:
    # Scrapers authenticate (Prometheus `authorization: {credentials: ...}`): the metrics
    # name communities and traffic, which is nobody else's business.
    expected = request.app.state.deps.settings.metrics_token.get_secret_value()
    if not check_credential(request, bearer(request.headers.get("authorization")), expected):
        raise HTTPException(status_code=401, detail="metrics token required (Bearer)")
    return Response(generate_latest(api_metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


@public.get("/dashboard", summary="Live dispatch dashboard (staff)", response_class=HTMLResponse)
async def dashboard(request: Request) -> Response:
    # A `?token=` is ignored: tokens in URLs end up in histories, proxies and Referer headers.
    if signed_in_staff(request) is None:
        return _page("login.html")
    return _page("dashboard.html")


@public.post("/dashboard/login", summary="Sign in to the dashboard (form field `token`)")
async def dashboard_login(request: Request, token: Annotated[str, Form()] = "") -> Response:
    account = authenticate_staff(request, token)
    if account is None:
        return _page("login.html", status_code=401)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE,
        new_session(request, account),
        httponly=True,
        samesite="strict",
        secure=behind_tls(request),
        max_age=SESSION_SECONDS,
    )
    return response


def _scope(request: Request) -> frozenset[str] | None:
    """The communities this account may see; None: all of them (district-wide)."""
    account: StaffAccount = request.state.staff
    return None if account.district_wide else account.communities


@staff.get("/overview", summary="Open requests, today's figures, per-community table")
async def ops_overview(request: Request) -> JSONResponse:
    pool = await request.app.state.deps.pool()
    data = await overview(pool, communities=_scope(request))  # a community's staff: theirs
    data["feed_live"] = _feed(request).ready.is_set()
    data["categories"] = category_labels()  # one label per category, from the catalogue
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@staff.get("/stream", summary="Server-sent events: the dispatch events as they happen")
async def ops_stream(request: Request) -> StreamingResponse:
    feed = _feed(request)
    scope = _scope(request)

    def shown(view: dict[str, Any]) -> bool:
        return scope is None or view.get("community_id") in scope

    async def frames() -> AsyncIterator[str]:
        async with feed.subscribe() as queue:
            yield "retry: 2000\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(feed.ready.wait(), timeout=10)
            yield _status(feed)
            for view in list(feed.recent):  # the page dedupes by event id
                if shown(view):
                    yield sse_message(view)
            while True:
                try:
                    view = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield _status(feed)  # doubles as a keep-alive through proxies
                    continue
                if shown(view):
                    yield sse_message(view)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _status(feed: LiveFeed) -> str:
    return f'event: status\ndata: {{"live":{str(feed.ready.is_set()).lower()}}}\n\n'


@staff.get("/reports/{community_id}/{month}", summary="A community's month (JSON or CSV)")
async def ops_report(
    community_id: str,
    month: str,
    request: Request,
    format: str = Query("json", pattern="^(json|csv)$"),
    table: str = Query("days", pattern="^(days|helpers)$"),
) -> Response:
    ensure_staff_scope(request, community_id)
    _check_month(month)
    pool = await request.app.state.deps.pool()
    report = await month_report(pool, community_id, month)
    if format == "json":
        return JSONResponse(report.as_json())
    body = helpers_csv(report) if table == "helpers" else days_csv(report)
    filename = f"report-{community_id}-{month}-{table}.csv"
    return PlainTextResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(filename)},
    )


def _check_month(month: str) -> None:
    """A real month, written exactly as it prints: `parse_month`'s pattern alone lets a
    final newline through (its `$`) and other scripts' digits (its `\\d`)."""
    try:
        first = parse_month(month)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    if month != f"{first.year:04d}-{first.month:02d}":
        raise HTTPException(status_code=422, detail=f"month must look like 2026-11, not {month!r}")


_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]")


def attachment(filename: str) -> str:
    """A Content-Disposition for any name (a community id may be Chinese, or anything a
    district-wide account types): RFC 6266's ASCII `filename` fallback, and the name itself
    percent-encoded as RFC 5987 `filename*`, so no byte of it can break the header."""
    fallback = _NOT_PLAIN.sub("_", filename)
    exact = quote(filename, safe="", errors="replace")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


# The simulation report is our own generated page: inline style and embedded PNGs only.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


@staff.get("/simulation/latest", summary="The latest what-if simulation report (HTML)")
async def ops_simulation(request: Request) -> Response:
    path = request.app.state.simulate_reports_dir / LATEST_REPORT
    if not path.is_file():
        raise HTTPException(
            status_code=404,
            detail=f"no simulation report in {path.parent}: run `python -m dispatcher simulate`",
        )
    return HTMLResponse(
        path.read_text(encoding="utf-8"),
        headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"},
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Add the operations routes to the API app. Called once by `create_app`."""
    app.state.simulate_reports_dir = settings.simulate_reports_dir
    feed = LiveFeed(settings)
    app.state.ops_feed = feed
    app.add_middleware(api_metrics.HttpMetricsMiddleware)
    app.include_router(public)
    app.include_router(staff)
    app.include_router(staff_actions.router)
    app.include_router(stream_health.router)
    app.mount("/ops/static", StaticFiles(directory=str(STATIC)), name="ops-static")

    # Stop the feed's consumer with the app, inside whatever lifespan create_app set.
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            try:
                yield state
            finally:
                await feed.stop()
                await stream_health.close(a)

    app.router.lifespan_context = lifespan
