"""The process-wide metrics and the one-line hooks the worker and notify agent call.

One registry per process (not prometheus_client's global one, so Faust's sensor and tests
never collide with it). Hook functions never raise: a metrics bug must not stop dispatch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from dispatcher.ops.event_metrics import EventMetrics, RequestSeed
from dispatcher.ops.metric_defs import DispatchMetrics
from schemas.events import Event

log = logging.getLogger(__name__)

# `_created` series double every counter's series for no dashboard we draw.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
METRICS = DispatchMetrics.create(REGISTRY)
EVENTS = EventMetrics(METRICS)

# Channel labels are the channel's kind ("wecom:grid-3" -> "wecom"): grids are not labels.
CHANNEL_KINDS = frozenset({"webhook", "wecom", "dingtalk", "feishu", "sms", "app", "group"})
FAILURE_KINDS = frozenset(
    {"timeout", "unreachable", "rejected", "rate_limited", "server_error", "retry", "other"}
)


def channel_kind(channel: str) -> str:
    kind = channel.split(":", 1)[0].strip().lower()
    return kind if kind in CHANNEL_KINDS else "other"


def requests_to_seed(events: Iterable[Event]) -> set[str]:
    """Record-agent hook: the requests of `events` this process has not seen opened (opened
    before a restart or a rebalance), to be read from PostgreSQL for `observe_events`."""
    try:
        return EVENTS.unknown_requests(events)
    except Exception:  # never let metrics stop recording
        log.exception("event metrics failed")
        return set()


def observe_events(
    events: Iterable[Event], seeds: Iterable[RequestSeed] = (), asked: Iterable[str] = ()
) -> None:
    """Worker hook: every event the core emitted (idempotent per event id), after `seeds`,
    the requests `asked` (`requests_to_seed`) as PostgreSQL had them before these events."""
    try:
        EVENTS.seed(seeds, asked)
        EVENTS.observe_all(events)
    except Exception:  # never let metrics stop recording
        log.exception("event metrics failed")


def observe_deadline_lateness(seconds: float) -> None:
    """Worker hook: how late a FireDeadline command was processed."""
    METRICS.deadline_lateness.observe(max(0.0, seconds))


@lru_cache(maxsize=256)  # channels come from the endpoint configuration: a few
def _delivered_series(channel: str) -> tuple[Counter, Histogram]:
    """The delivered count and delivery time of `channel`'s kind, looked up once and not at
    every delivered push (`labels` checks, locks and looks the child up at every call)."""
    kind = channel_kind(channel)
    return METRICS.notifications_delivered.labels(kind), METRICS.notification_seconds.labels(kind)


def observe_delivery(channel: str, *, seconds: float | None = None) -> None:
    """Notify hook: a push was delivered on `channel` (e.g. "wecom:grid-3")."""
    delivered, took = _delivered_series(channel)
    delivered.inc()
    if seconds is not None:
        took.observe(seconds)


def observe_delivery_failure(
    channel: str, failure: str = "other", *, seconds: float | None = None
) -> None:
    """Notify hook: a push attempt failed. `failure` is one of FAILURE_KINDS (else "other")."""
    kind = channel_kind(channel)
    METRICS.notification_failures.labels(
        kind, failure if failure in FAILURE_KINDS else "other"
    ).inc()
    if seconds is not None:
        METRICS.notification_seconds.labels(kind).observe(seconds)


def observe_delivery_result(channel: str, result: object, *, seconds: float | None = None) -> None:
    """Notify hook for `dispatcher.push.model.DeliveryResult` values (matched by class name,
    so this module does not depend on the push package)."""
    name = type(result).__name__
    if name == "Delivered":
        observe_delivery(channel, seconds=seconds)
    elif name == "RetryLater":
        failure = "rate_limited" if getattr(result, "throttled", False) else "retry"
        observe_delivery_failure(channel, failure, seconds=seconds)
    else:
        observe_delivery_failure(channel, "rejected", seconds=seconds)
