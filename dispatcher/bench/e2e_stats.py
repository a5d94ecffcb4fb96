"""Percentiles for `bench e2e` (nearest rank on the sorted samples), in milliseconds."""

from __future__ import annotations

from typing import Any

from dispatcher.stats import nearest_rank


def summarize(seconds: list[float]) -> dict[str, Any]:
    """p50/p99/max in ms (None when there are no samples)."""
    if not seconds:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(seconds)
    return {
        "p50_ms": round(nearest_rank(ordered, 0.50) * 1000, 2),
        "p99_ms": round(nearest_rank(ordered, 0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b (inf when a is: a percentile that fell on a request never served)."""
    if a is None or b is None or b <= 0:
        return None
    return round(a / b, 2)


def _nearest(scenarios: list[dict[str, Any]], name: str, rate: float) -> dict[str, Any] | None:
    named = [s for s in scenarios if s["name"] == name]
    return min(named, key=lambda s: abs(s["offered_rate"] - rate), default=None)


def headline(
    fixed: list[dict[str, Any]],
    floor: dict[str, Any],
    ceiling_one_worker: float | None,
    intake_rate: float = 50.0,
) -> dict[str, Any]:
    """The run's figures of merit from its fixed-rate scenarios (issue 18): latencies open
    loop (from each request's scheduled time), the `sent_` ones from the actual send, each
    over every request planned (one never served counts as never: `e2e_load.NEVER`); beside
    them how many of those requests were not served (`intake_unserved`, `e2e_unserved`: any
    makes the figure's goal NOT met, `goals.py`).

    - intake (HTTP 202) p50/p99 at the fixed rate nearest `intake_rate`;
    - intake → first offer p99 over Kafka's produce → consume p99, at the lowest rate;
    - CPU ms per dispatched request at the fixed rate that achieved the most requests/s
      (idle work, timers and GC spread over the most requests), and at every rate."""
    intake = _nearest(fixed, "intake_http_202", intake_rate)
    lowest = min((s["offered_rate"] for s in fixed), default=0.0)
    base = _nearest(fixed, "intake_to_first_offer", lowest)
    first = [
        s for s in fixed if s["name"] == "intake_to_first_offer" and s.get("cpu_ms_per_request")
    ]
    busiest = max(first, key=lambda s: s["rate"], default=None)
    cpu: dict[str, Any] | None = None
    if busiest is not None:
        cpu = dict(busiest["cpu_ms_per_request"])
        cpu["offered_rate"] = busiest["offered_rate"]
        cpu["by_offered_rate"] = {
            str(s["offered_rate"]): s["cpu_ms_per_request"]["total"] for s in first
        }
    return {
        "ceiling_req_s_one_worker": ceiling_one_worker,
        "cpu_ms_per_request": cpu,
        "intake_p50_ms": intake["p50_ms"] if intake else None,
        "intake_p99_ms": intake["p99_ms"] if intake else None,
        "intake_sent_p50_ms": intake["sent_p50_ms"] if intake else None,
        "intake_sent_p99_ms": intake["sent_p99_ms"] if intake else None,
        "intake_offered_rate": intake["offered_rate"] if intake else None,
        # Where the 202's time went, by the API's Server-Timing (None: not reported).
        "intake_phases_ms": intake.get("phases") if intake else None,
        # What the load generator itself added (its pacing), in the intake figures above.
        "generator_lateness_p50_ms": intake.get("generator_lateness_p50_ms") if intake else None,
        "generator_lateness_p99_ms": intake.get("generator_lateness_p99_ms") if intake else None,
        "e2e_p50_over_floor": ratio(base["p50_ms"], floor["p50_ms"]) if base else None,
        "e2e_p99_over_floor": ratio(base["p99_ms"], floor["p99_ms"]) if base else None,
        "e2e_p99_over_floor_sent": ratio(base["sent_p99_ms"], floor["p99_ms"]) if base else None,
        # What the two figures' requests lost: not served at all (refused, unanswered,
        # unsent, or no first offer) and of those, refused or unanswered / without an offer.
        **_failures("intake", intake, ("unserved", "http_errors", "unsent")),
        **_failures("e2e", base, ("unserved", "http_errors", "unsent", "missing")),
    }


def _failures(prefix: str, s: dict[str, Any] | None, counts: tuple[str, ...]) -> dict[str, Any]:
    """`s`'s counts of failed requests as `prefix_name` (None: not measured)."""
    return {f"{prefix}_{c}": (s.get(c) if s else None) for c in counts}


GC_FIGURES = (
    "worker_gc_total_ms",
    "worker_gc_full_collections",
    "worker_gc_full_p99_ms",
    "worker_gc_full_max_ms",
    "worker_gc_young_p99_ms",
)


def gc_figures(worker_stats: list[dict[str, Any]]) -> dict[str, Any]:
    """worker-1's garbage-collector pauses over the whole run (streams/gc_stats.py): all
    generations' total, the full collections' count, p99 and max, and the young ones' p99
    (generations 0 and 1: what a larger young threshold costs each pause). None for a worker
    that does not report them (a `--compare` base before they existed)."""
    gc = next((s.get("gc") for s in worker_stats if s.get("worker") == "worker-1"), None)
    if not gc:
        return dict.fromkeys(GC_FIGURES)
    return {
        "worker_gc_total_ms": round(sum(gc["total_ms"]), 1),
        "worker_gc_full_collections": gc["collections"][2],
        "worker_gc_full_p99_ms": gc["full_pause_ms"]["p99"],
        "worker_gc_full_max_ms": gc["full_pause_ms"]["max"],
        "worker_gc_young_p99_ms": gc["young_pause_ms"]["p99"],
    }


def loop_census_between(
    after: dict[str, Any] | None, before: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """What a worker's loop census (streams/loop_census.py, its /stats `loop_census`)
    counted between two readings, `after` minus `before`, the longest-held first (wall
    `total_ms`, the thread's own `cpu_ms`); `max_ms` is the longest since the worker
    started (a census keeps no history). {} when off."""
    if not after:
        return {}
    earlier = (before or {}).get("callbacks", {})
    out: dict[str, dict[str, Any]] = {}
    for name, now in after["callbacks"].items():
        was = earlier.get(name, {"count": 0, "total_ms": 0.0, "cpu_ms": 0.0})
        count = now["count"] - was["count"]
        if count > 0:
            out[name] = {
                "count": count,
                "total_ms": round(now["total_ms"] - was["total_ms"], 2),
                "cpu_ms": round(now.get("cpu_ms", 0.0) - was.get("cpu_ms", 0.0), 2),
                "max_ms": now["max_ms"],
            }
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["total_ms"]))
