"""The API's metrics: HTTP traffic by route template, intake by source, the live feed.

Kept apart from the worker's dispatch metrics (derived from events) so that summing a
metric over all scraped jobs never counts one request twice.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `_created` series double the series count for nothing we draw.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "dispatch_http_requests",
    "HTTP requests answered by the API",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "dispatch_http_request_duration_seconds",
    "Time to the response's first byte",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
REQUESTS_SUBMITTED = Counter(
    "dispatch_api_requests_submitted",
    "Help requests queued by the API, by where they came from",
    ["category", "urgency", "source"],
    registry=REGISTRY,
)
REQUESTS_MERGED = Counter(
    "dispatch_api_requests_merged",
    "Reports merged into an open request for the same incident (same building, category)",
    ["category", "urgency"],
    registry=REGISTRY,
)
FEED_SUBSCRIBERS = Gauge(
    "dispatch_live_feed_subscribers", "Dashboards listening to the live feed", registry=REGISTRY
)
FEED_EVENTS = Counter(
    "dispatch_live_feed_events", "Events read from Kafka by the live feed", registry=REGISTRY
)
FEED_DROPPED = Counter(
    "dispatch_live_feed_dropped",
    "Events not delivered to a dashboard that was too slow",
    registry=REGISTRY,
)

OFFER_LINK_OTHER_DEVICE = Counter(
    "dispatch_offer_link_other_device",
    "Private offer links opened (step=open) or pressed (step=act) on a device other than "
    "the one they were bound to (issue 12): refused",
    ["step"],
    registry=REGISTRY,
)
# A count, no labels: a bot or community id would make a series per tenant. /readyz names them.
UNSERVED_BOTS = Gauge(
    "dispatch_config_unserved_bots",
    "Bots the live configuration holds but does not serve (production: a Feishu bot stored "
    "without platform.encrypt_key); their groups get no reply. /readyz lists their ids",
    registry=REGISTRY,
)

# The API's hourly retention purge (dispatcher/record/retention.py purge_forever): before
# session 42 a failure was one WARNING line, so a purge failing every hour kept contacts past
# DISPATCH_RETENTION_DAYS and nothing fired. Both results exported at 0 from the start.
RETENTION_PURGE_RUNS = Counter(
    "dispatch_retention_purge_runs",
    "Runs of the API's hourly retention purge, by result (ok, failed)",
    ["result"],
    registry=REGISTRY,
)
for _result in ("ok", "failed"):
    RETENTION_PURGE_RUNS.labels(_result)
RETENTION_PURGE_LAST_SUCCESS = Gauge(
    "dispatch_retention_purge_last_success_timestamp_seconds",
    "Unix time of this API's last successful retention purge (its start until the first): "
    "DispatchRetentionPurgeStale pages when every pod's is over 3 h old",
    registry=REGISTRY,
)
# The process's start stands in until the first success: a pod just started does not page
# before its first run, and one whose purge never succeeds pages 3 h after it started.
RETENTION_PURGE_LAST_SUCCESS.set_to_current_time()


def observe_retention_purge(ok: bool) -> None:
    """Hook of the API's hourly purge: one run ended (`ok`: its transaction committed)."""
    RETENTION_PURGE_RUNS.labels("ok" if ok else "failed").inc()
    if ok:
        RETENTION_PURGE_LAST_SUCCESS.set_to_current_time()


def source_kind(spec: Any) -> str:
    """bot (a chat-group bot), group (a group id without a bot), or direct (console, API)."""
    source = getattr(spec, "source", None)
    if source is not None and getattr(source, "bot_id", None):
        return "bot"
    if source is not None and getattr(source, "group_id", None):
        return "group"
    return "direct"


def observe_request_submitted(spec: Any) -> None:
    """API hook: a `RequestSpec` was queued (call after the sink acknowledged it)."""
    REQUESTS_SUBMITTED.labels(str(spec.category), str(spec.urgency), source_kind(spec)).inc()


def observe_request_merged(spec: Any) -> None:
    """API hook: a report was merged into an earlier open request (nothing dispatched)."""
    REQUESTS_MERGED.labels(str(spec.category), str(spec.urgency)).inc()


class HttpMetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware) so streaming responses (SSE) pass untouched;
    the route label is the matched template (`/v1/requests/{request_id}`), never the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = "500"

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
                route = scope.get("route")
                HTTP_SECONDS.labels(_method(scope), _route(route)).observe(
                    time.perf_counter() - start
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_REQUESTS.labels(_method(scope), _route(scope.get("route")), status).inc()


# A client chooses the method; a label must not let it create series (one per method sent).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in KNOWN_METHODS else "other"


def _route(route: Any) -> str:
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
