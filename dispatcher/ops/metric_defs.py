"""Every Prometheus metric the dispatch service defines, built on a registry passed in.

Conventions (see deploy/README.md): prefix `dispatch_`, seconds as the unit, `_total` for
counters. Labels are closed enums only (category, urgency, ring, outcome, channel kind…).
Community ids are deliberately *not* labels: a district rollout adds communities without
bound and each one multiplies every histogram's series; per-community figures come from
PostgreSQL (dashboard, reports) instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.vocab import Urgency

# Neighbours' phones buzz within a second; a burst of waves may take a minute or two.
FIRST_OFFER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
# Minute-scale: from "a neighbour said yes in 5 s" to "nobody for an hour".
FIRST_ACCEPT_BUCKETS = (
    5,
    10,
    20,
    30,
    45,
    60,
    90,
    120,
    180,
    300,
    600,
    900,
    1200,
    1800,
    2700,
    3600,
)
# The timer ticks every 100 ms: anything past a few seconds means a stuck worker.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

# The urgency of a request whose opening this process never saw nor found recorded.
UNKNOWN = "unknown"
CLOSE_OUTCOMES = ("resolved", "ended", "cancelled", "referred", "expired")
URGENCY_LABELS = (*(str(u) for u in Urgency), UNKNOWN)


@dataclass(frozen=True)
class DispatchMetrics:
    """The worker-side metrics (derived from events, deadlines, deliveries)."""

    registry: CollectorRegistry
    requests_opened: Counter
    requests_answered: Counter
    requests_closed: Counter
    time_to_first_offer: Histogram
    time_to_first_accept: Histogram
    offers_sent: Counter
    offer_answers: Counter
    escalations: Counter
    whistles: Counter
    emergency_calls_advised: Counter
    emergency_referrals_advised: Counter
    helpers_withdrawn: Counter
    commands_rejected: Counter
    deadline_lateness: Histogram
    notifications_delivered: Counter
    notification_failures: Counter
    notification_seconds: Histogram
    consumer_lag: Gauge
    records_lost_to_retention: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> DispatchMetrics:
        r = registry
        metrics = cls(
            registry=r,
            requests_opened=Counter(
                "dispatch_requests_opened",
                "Help requests opened",
                ["category", "urgency"],
                registry=r,
            ),
            requests_answered=Counter(
                "dispatch_requests_answered",
                "Requests that got their first accepting helper",
                ["category", "urgency"],
                registry=r,
            ),
            requests_closed=Counter(
                "dispatch_requests_closed",
                "Requests closed, by outcome (resolved, ended, cancelled, referred, expired)",
                ["outcome", "urgency"],
                registry=r,
            ),
            time_to_first_offer=Histogram(
                "dispatch_time_to_first_offer_seconds",
                "From request opened (held for quiet hours: from its release) "
                "to its first offer sent",
                ["urgency"],
                buckets=FIRST_OFFER_BUCKETS,
                registry=r,
            ),
            time_to_first_accept=Histogram(
                "dispatch_time_to_first_accept_seconds",
                "From request opened (held for quiet hours: from its release) "
                "to its first helper assigned",
                ["urgency"],
                buckets=FIRST_ACCEPT_BUCKETS,
                registry=r,
            ),
            offers_sent=Counter(
                "dispatch_offers_sent", "Offers sent to helpers", ["ring", "urgency"], registry=r
            ),
            offer_answers=Counter(
                "dispatch_offer_answers",
                "How offers ended: accepted, declined, expired, failed, stood_down; "
                "accepted_late: a later accept of one that ended unaccepted (not a second end)",
                ["ring", "answer"],
                registry=r,
            ),
            escalations=Counter(
                "dispatch_escalations",
                "Escalations to a wider ring, by the ring escalated to",
                ["ring", "urgency"],
                registry=r,
            ),
            whistles=Counter(
                "dispatch_whistles",
                "Whistles blown (staff on duty + community group)",
                ["urgency"],
                registry=r,
            ),
            emergency_calls_advised=Counter(
                "dispatch_emergency_calls_advised",
                "Requesters told to call an emergency number at once",
                ["number"],
                registry=r,
            ),
            emergency_referrals_advised=Counter(
                "dispatch_emergency_referrals_advised",
                "Ladders that reached the referral rung (staff asked to hand on)",
                ["target"],
                registry=r,
            ),
            helpers_withdrawn=Counter(
                "dispatch_helpers_withdrawn",
                "Assigned helpers who withdrew or did not show",
                ["no_show"],
                registry=r,
            ),
            commands_rejected=Counter(
                "dispatch_commands_rejected",
                "Valid commands that could not take effect",
                ["command", "reason"],
                registry=r,
            ),
            deadline_lateness=Histogram(
                "dispatch_deadline_lateness_seconds",
                "How late a deadline command was processed after it fell due",
                buckets=LATENESS_BUCKETS,
                registry=r,
            ),
            notifications_delivered=Counter(
                "dispatch_notifications_delivered",
                "Push notifications delivered, by channel kind",
                ["channel"],
                registry=r,
            ),
            notification_failures=Counter(
                "dispatch_notification_failures",
                "Push notification attempts that failed, by channel kind and kind of failure",
                ["channel", "failure"],
                registry=r,
            ),
            notification_seconds=Histogram(
                "dispatch_notification_delivery_seconds",
                "Time of one push attempt",
                ["channel"],
                buckets=DELIVERY_BUCKETS,
                registry=r,
            ),
            consumer_lag=Gauge(
                "dispatch_consumer_lag_messages",
                "Messages in Kafka not yet committed by this worker, per assigned partition",
                ["topic", "partition"],
                registry=r,
            ),
            records_lost_to_retention=Counter(
                "dispatch_records_lost_to_retention",
                "Records deleted by retention before this worker's group processed them",
                ["topic"],
                registry=r,
            ),
        )
        # A paging alert reads `increase()` of these: a labelled child prometheus_client
        # creates at its first increment appears already at 1, and increase() over a series'
        # first sample is 0, so the first expiry after a start would page nobody. Every
        # outcome and urgency exists at 0 from the start (retention's topics: `watch_topics`).
        for outcome in CLOSE_OUTCOMES:
            for urgency in URGENCY_LABELS:
                metrics.requests_closed.labels(outcome, urgency)
        return metrics

    def watch_topics(self, topics: Iterable[str]) -> None:
        """`records_lost_to_retention` of each of `topics` at 0, as the worker starts reading
        them (see `create`: the alert must see the series before its first loss)."""
        for topic in topics:
            self.records_lost_to_retention.labels(topic)
