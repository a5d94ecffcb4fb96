"""The worker's time-to-first-offer and time-to-first-accept histograms count a request held
for quiet hours from when anyone was first asked, as the dashboard and the month report do
(`ASKED_FROM`, tests/integration/test_ttfa_from_release_s38.py): before session 38 they
counted from the opening, so one request held overnight read as a first accept 8 h late, and
its first offer (at the release) as a dispatch 11 h slow, beyond the histograms' last bucket:
the Grafana panels' p90 went to +Inf after every quiet night."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dispatcher.ops.event_metrics import EventMetrics, RequestSeed
from dispatcher.ops.metric_defs import DispatchMetrics
from tests.support.quiet_night import WAITS, a_quiet_night

TTFA = "dispatch_time_to_first_accept_seconds"
TTFO = "dispatch_time_to_first_offer_seconds"


def observed(events: list, seeds: list[RequestSeed] | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics = EventMetrics(DispatchMetrics.create(registry))
    if seeds is not None:
        metrics.seed(seeds)
    metrics.observe_all(events)
    return registry


def _sum(reg: CollectorRegistry, name: str) -> tuple[float, float]:
    count = sum(s.value for m in reg.collect() for s in m.samples if s.name == name + "_count")
    total = sum(s.value for m in reg.collect() for s in m.samples if s.name == name + "_sum")
    return count, total


def test_first_accepts_are_counted_from_the_release() -> None:
    reg = observed(a_quiet_night("c-held"))
    assert _sum(reg, TTFA) == (len(WAITS), sum(WAITS.values()))  # 1,920 s, not ~44 h


def test_first_offers_of_a_held_request_are_counted_from_the_release() -> None:
    events = a_quiet_night("c-held")
    reg = observed(events)
    opened = {e.request_id: e.occurred_at for e in events if e.body.type == "request_opened"}
    released = {e.request_id: e.occurred_at for e in events if e.body.type == "request_released"}
    first: dict[str, float] = {}
    for e in events:
        rid = e.request_id or ""
        if e.body.type in ("offer_sent", "offers_sent") and rid not in first:
            since = released[rid] if rid in released and e.occurred_at >= released[rid] else None
            first[rid] = (e.occurred_at - (since or opened[rid])).total_seconds()
    count, total = _sum(reg, TTFO)
    assert count == len(first)
    assert total == sum(first.values())
    assert max(first.values()) == 3600  # the teams called an hour into the night; no 11 h wait


def test_a_request_seeded_after_a_restart_keeps_its_release() -> None:
    """A worker started during the night: the held request comes from PostgreSQL's row."""
    events = a_quiet_night("c-held")
    rid = "c-held/night"
    opened = next(e for e in events if e.request_id == rid and e.body.type == "request_opened")
    release = next(e for e in events if e.request_id == rid and e.body.type == "request_released")
    later = [e for e in events if e.request_id == rid and e.occurred_at > release.occurred_at]
    seed = RequestSeed(
        request_id=rid,
        category=str(opened.body.category),
        urgency=str(opened.body.urgency),
        opened_at=opened.occurred_at,
        offered=True,
        answered=False,
        held=True,
        released_at=release.occurred_at,
        first_offer_at=release.occurred_at,
    )
    reg = observed([e for e in later if e.body.type == "helper_assigned"], [seed])
    assert _sum(reg, TTFA) == (1, WAITS["night"])
