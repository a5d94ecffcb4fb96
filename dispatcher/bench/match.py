"""`bench match`: the cost of one matching decision — a critical "take me to hospital"
request (drivers near her building + a nurse or doctor by phone) — through the index,
beside a straightforward scan-and-sort of every helper on the same data."""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from dispatcher.bench.community import COMMUNITY, build_state, home_of
from dispatcher.core import DispatchState, decide
from dispatcher.core.context import SearchContext
from dispatcher.core.scan import scan_search
from dispatcher.stats import nearest_rank
from schemas.commands import Command, SubmitRequest
from schemas.places import PlacePath
from schemas.plans import DEFAULT_PLANS
from schemas.records import RequestState
from schemas.requests import RequesterContact, RequestSpec
from schemas.vocab import Category, Ring, Skill, Urgency

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)  # 20:00 in China


def _spec(i: int, household_index: int) -> RequestSpec:
    h = home_of(household_index)
    return RequestSpec(
        request_id=f"bench-{i}",
        community_id=COMMUNITY,
        place=PlacePath(
            community_id=COMMUNITY,
            grid_id=h.grid[1],
            compound_id=h.compound[1],
            building_id=h.building[2],
            household_id=h.household,
        ),
        category=Category.HOSPITAL_TRANSPORT,
        urgency=Urgency.CRITICAL,
        skills=(Skill.DRIVING, Skill.NURSE, Skill.DOCTOR),
        helpers_needed=1,
        contact=RequesterContact(phone="13800000000"),
    )


def _command(spec: RequestSpec) -> Command:
    return Command(
        command_id=f"cmd-{spec.request_id}",
        community_id=COMMUNITY,
        issued_at=NOW,
        body=SubmitRequest(spec=spec),
    )


def _first_wave(state: DispatchState, spec: RequestSpec, naive: bool) -> list[set[str]]:
    """The first wave's choice per need, by the index search or by the scan."""
    plan = DEFAULT_PLANS[Urgency.CRITICAL]
    request = RequestState(spec=spec, plan=plan, created_at=NOW, ends_at=NOW, step_started_at=NOW)
    ctx = SearchContext.for_request(request, NOW)
    chosen: list[set[str]] = []
    exclude: set[str] = set()
    for i, need in enumerate(spec.effective_needs()):
        wave = plan.remote_wave_size if need.remote else plan.steps[0].wave_size
        ring = Ring.COMMUNITY if need.remote else plan.steps[0].ring
        if naive:
            found = scan_search(state.index.entries.values(), ctx, need, ring, wave, exclude)
        else:
            seed = ctx.window_seed(0, i, 0)
            found = state.index.search(ctx, need, ring, wave, exclude, seed)
        ids = {c.helper_id for c in found}
        exclude |= ids
        chosen.append(ids)
    return chosen


def run_size(n: int, decisions: int, naive_runs: int, seed: int) -> dict[str, Any]:
    print(f"building a community of {n:,} helpers…", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    state = build_state(n, seed)
    build_s = time.perf_counter() - t0
    rng = random.Random(seed + 1)
    specs = [_spec(i, rng.randrange(n)) for i in range(decisions)]

    for spec in specs[:5]:  # warm-up
        decide(state, _command(spec), NOW)
    decide_us: list[float] = []
    offers: list[int] = []
    for spec in specs:
        command = _command(spec)
        t = time.perf_counter()
        decision = decide(state, command, NOW)
        decide_us.append((time.perf_counter() - t) * 1e6)
        offers.append(sum(1 for e in decision.events if e.body.type == "offer_sent"))

    search_us: list[float] = []
    for spec in specs:
        t = time.perf_counter()
        _first_wave(state, spec, naive=False)
        search_us.append((time.perf_counter() - t) * 1e6)

    print(f"  scanning all {n:,} helpers {naive_runs}×…", file=sys.stderr, flush=True)
    naive_us: list[float] = []
    agree = 0
    compared = 0
    for spec in specs[:naive_runs]:
        t = time.perf_counter()
        by_scan = _first_wave(state, spec, naive=True)
        naive_us.append((time.perf_counter() - t) * 1e6)
        by_index = _first_wave(state, spec, naive=False)
        compared += len(by_scan)
        agree += sum(1 for a, b in zip(by_scan, by_index, strict=True) if a == b)

    p50 = statistics.median(decide_us)
    naive_p50 = statistics.median(naive_us)
    return {
        "helpers": n,
        "build_s": round(build_s, 2),
        "decisions": decisions,
        "p50_us": round(p50, 1),
        "p99_us": round(nearest_rank(decide_us, 0.99), 1),
        "search_p50_us": round(statistics.median(search_us), 1),
        "naive_runs": len(naive_us),
        "naive_p50_us": round(naive_p50, 1),
        "naive_p99_us": round(nearest_rank(naive_us, 0.99), 1),
        "speedup_p50": round(naive_p50 / p50, 1),
        "offers_per_decision": round(statistics.mean(offers), 2),
        # Share of needs for which the index chose exactly the scan's helpers: 1.0 where
        # the rings fit the scan limit; lower where a huge ring is read through a window.
        "agreement_with_scan": round(agree / compared, 3) if compared else None,
    }
