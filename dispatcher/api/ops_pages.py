"""The API's operations surface: `/metrics`, the live dashboard, its JSON and SSE feeds,
and monthly reports. `install(app, settings)` is the one hook `create_app` calls."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
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
from starlette.types import Receive, Scope, Send

from dispatcher.api import staff_actions, stream_health
from dispatcher.api.auth import (
    SESSION_SECONDS,
    audit_staff,
    authenticate_staff,
    bearer,
    behind_tls,
    check_credential,
    ensure_staff_scope,
    new_session,
    session_expiry,
)
from dispatcher.api.errors import fail
from dispatcher.api.staff_accounts import StaffAccount
from dispatcher.api.staff_pages import COOKIE, require_staff_ops, signed_in_staff
from dispatcher.ops import api_metrics
from dispatcher.ops.dashboard_data import overview
from dispatcher.ops.live_feed import (
    TOO_MANY_STREAMS,
    FeedFull,
    LiveFeed,
    Subscriber,
    sse_message,
)
from dispatcher.ops.reports import (
    UnknownCommunityError,
    days_csv,
    helpers_csv,
    month_report,
    parse_month,
)
from dispatcher.settings import Settings
from schemas.catalogue import labels as category_labels

STATIC = resources.files("dispatcher.ops") / "static"
LATEST_REPORT = "latest.html"  # written by dispatcher/simulate/report.py
HEARTBEAT_S = 15.0
STAFF_RECHECK_S = 5.0  # app-clock seconds a stream delivers on one check of its account
STREAM_RETRY_AFTER_S = "30"  # a refused stream: about when another may have ended
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
            # Not "no-referrer": under it a browser posts the sign-in form with `Origin:
            # null`, which the cross-site check cannot tell from another site's page.
            # Nothing leaves this origin with a Referer either way.
            "Referrer-Policy": "same-origin",
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


def _refuse_cross_site(request: Request, what: str) -> None:
    """Login CSRF: another site's page could otherwise post its own account's token and sign
    a community's wall screen into that account (it would then show that account's scope,
    and record the screen's actions under it). The staff actions' rule."""
    if not staff_actions.same_origin(request):
        raise fail(403, "cross_site", f"{what} refused: the form was sent from another site")


@public.post("/dashboard/login", summary="Sign in to the dashboard (form field `token`)")
async def dashboard_login(request: Request, token: Annotated[str, Form()] = "") -> Response:
    _refuse_cross_site(request, "sign-in")
    account = authenticate_staff(request, token)
    if account is None:
        return _page("login.html", status_code=401)
    # A session is staff access for 12 hours: audited as every staff request (503 while
    # PostgreSQL is out of reach: no session issued unaudited).
    await audit_staff(request, account)
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


@public.post("/dashboard/logout", summary="Sign out of the dashboard (this browser)")
async def dashboard_logout(request: Request) -> Response:
    # The session is a signed cookie, not a server record: signing out forgets it here. A
    # copy taken elsewhere lasts until it expires or the account's token changes.
    _refuse_cross_site(request, "sign-out")
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=behind_tls(request))
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
    account: StaffAccount = request.state.staff
    access = _StreamAccess(request, account)
    try:
        subscriber = feed.open(account.name, _scope(request))
    except FeedFull as full:
        status = 429 if full.reason == TOO_MANY_STREAMS else 503
        raise fail(status, full.reason, str(full), {"Retry-After": STREAM_RETRY_AFTER_S}) from full
    return _HeldStream(  # nothing between open and the response: it closes the subscriber
        _frames(feed, subscriber, access),
        release=lambda: feed.close(subscriber),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _frames(
    feed: LiveFeed, subscriber: Subscriber, access: _StreamAccess
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    await feed.ensure_started()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(feed.ready.wait(), timeout=10)
    ended = access.ended(due=True)
    if ended is None:
        yield _status(feed)
        for view in feed.backlog(subscriber):
            yield sse_message(view)
    while ended is None:
        try:
            view = await asyncio.wait_for(subscriber.queue.get(), timeout=HEARTBEAT_S)
        except TimeoutError:
            ended = access.ended(due=True)
            if ended is None:
                yield _status(feed)  # doubles as a keep-alive through proxies
            continue
        ended = access.ended()
        if ended is None:
            yield sse_message(view)
    # The page goes back to its sign-in on this; a plain EventSource reconnects and gets 401
    # (or, for a changed scope, a stream of the new one).
    yield f'event: ended\ndata: {{"reason":"{ended}"}}\n\n'


class _StreamAccess:
    """A stream's staff credential, checked again while it runs, as at its opening: at every
    heartbeat and, between them, before a frame once STAFF_RECHECK_S of the app's clock
    passed. A revoked account, a new token, a changed scope or an expired session ends it."""

    def __init__(self, request: Request, account: StaffAccount) -> None:
        self.request = request
        self.account = account
        self._wall: Callable[[], float] = request.app.state.deps.wall
        self.checked = self._wall()
        # A bearer token has no end of its own; a session cookie does (as signed_in_staff).
        token = bearer(request.headers.get("authorization"))
        self.expires = None if token is not None else session_expiry(request.cookies.get(COOKIE))

    def ended(self, due: bool = False) -> str | None:
        """Why the stream must end now; None while the account still holds."""
        now = self._wall()
        if self.expires is not None and now >= self.expires:
            return "session_expired"
        if not due and now - self.checked < STAFF_RECHECK_S:
            return None
        self.checked = now
        try:
            current = signed_in_staff(self.request)
        except HTTPException:  # throttled: as a new request would be
            current = None
        if current is None:
            return "signed_out"
        return None if current == self.account else "account_changed"


class _HeldStream(StreamingResponse):
    """A streaming response that gives its feed subscription back however it ends, also
    when the client leaves before the body generator ever starts (its `finally` would not
    run then)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None], **kw: Any) -> None:
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


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
    account = getattr(request.state, "staff", None)
    # An account made for this very community knows it (no data yet: an empty month); a
    # district-wide one may misspell it.
    configured = account is not None and community_id in account.communities
    try:
        report = await month_report(pool, community_id, month, configured=configured)
    except UnknownCommunityError as exc:  # a misspelt id is not a quiet month
        raise HTTPException(status_code=404, detail=str(exc)) from exc
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
