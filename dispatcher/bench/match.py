"""`bench match`: the cost of one matching decision — a critical "take me to hospital"
request (drivers near her building + a nurse or doctor by phone) — through the index,
beside a straightforward scan-and-sort of every helper on the same data.

The measuring half (`MatchRunner`) uses only the core's long-standing public API
(`decide`, `DispatchState`, `SearchContext.for_request`, `HelperIndex.search`,
`scan_search`, the synthetic community), so `bench match --compare REV` can load this
very file against another checkout's `dispatcher` package in a child process and time
both versions turn by turn in one run (see `match_compare`).
"""

from __future__ import annotations

import gc
import hashlib
import json
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


class MatchRunner:
    """One synthetic community and its timed decisions, measured in batches so that two
    runners (two versions of the core) can take turns."""

    def __init__(self, n: int, decisions: int, seed: int, progress: bool = True) -> None:
        t0 = time.perf_counter()
        self.state = build_state(n, seed, progress=progress)
        self.build_s = time.perf_counter() - t0
        rng = random.Random(seed + 1)
        self.specs = [_spec(i, rng.randrange(n)) for i in range(decisions)]
        self.commands = [_command(spec) for spec in self.specs]
        # Untimed pass over every request first: the synthetic community makes a helper's
        # stored record (a pydantic model) on first touch, which the worker's in-memory
        # table never does; without this, ~18 such builds per decision would be timed.
        warm = [decide(self.state, c, NOW) for c in self.commands]
        # One per `offer_sent` (a core before the waves' events), each of an `offers_sent`.
        self.offers = [
            sum(
                len(getattr(e.body, "offers", ())) if e.body.type == "offers_sent" else 1
                for e in d.events
                if e.body.type in ("offer_sent", "offers_sent")
            )
            for d in warm
        ]
        # The worker's state holds its helpers' records in a plain dict (`DispatchState`'s
        # default); the synthetic community's lazy `Mapping` costs two Python calls per
        # lookup (~4 % of a decision at 1 M helpers). The timed decisions read exactly the
        # records the untimed ones changed: a dict of those, checked to decide alike.
        self.state.helpers = {h: self.state.helpers[h] for d in warm for h in d.helpers}
        if any(
            list(decide(self.state, c, NOW).helpers) != list(d.helpers)
            for c, d in zip(self.commands, warm, strict=True)
        ):
            raise RuntimeError("a decision read a helper record the warm-up did not make")
        # As the worker does after building its state (`streams.runtime`): the long-lived
        # objects leave the collector's generations, so a full collection no longer walks
        # every helper of the community in the middle of a decision.
        gc.collect()
        gc.freeze()

    def time_decide(self, start: int, count: int) -> list[tuple[float, float]]:
        """(wall µs, this thread's CPU µs) per decision: CPU time leaves out the time
        another process held the core, which on a shared machine dominates the tail."""
        out: list[tuple[float, float]] = []
        for command in self.commands[start : start + count]:
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            decide(self.state, command, NOW)
            t1 = time.perf_counter_ns()
            c1 = time.thread_time_ns()
            out.append(((t1 - t0) / 1e3, (c1 - c0) / 1e3))
        return out

    def time_search(self, start: int, count: int) -> list[float]:
        out: list[float] = []
        for spec in self.specs[start : start + count]:
            t = time.perf_counter_ns()
            _first_wave(self.state, spec, naive=False)
            out.append((time.perf_counter_ns() - t) / 1e3)
        return out

    def time_scan(self, i: int) -> tuple[float, int, int]:
        """One full scan (µs), and how many needs the index chose exactly as the scan."""
        spec = self.specs[i % len(self.specs)]
        t = time.perf_counter_ns()
        by_scan = _first_wave(self.state, spec, naive=True)
        took = (time.perf_counter_ns() - t) / 1e3
        by_index = _first_wave(self.state, spec, naive=False)
        agree = sum(1 for a, b in zip(by_scan, by_index, strict=True) if a == b)
        return took, agree, len(by_scan)

    def digest(self) -> str:
        """SHA-256 over every decision's events and records as JSON: two versions of the
        core that decide identically print the same digest."""
        h = hashlib.sha256()
        for command in self.commands:
            d = decide(self.state, command, NOW)
            for e in d.events:
                h.update(e.model_dump_json().encode())
            for r in d.requests.values():
                h.update(r.model_dump_json().encode())
            for k in sorted(d.helpers):
                h.update(d.helpers[k].model_dump_json().encode())
        return h.hexdigest()


def summarise(
    runner_n: int,
    build_s: float,
    decide_us: list[tuple[float, float]],
    search_us: list[float],
    scans: list[tuple[float, int, int]],
    offers: list[int],
) -> dict[str, Any]:
    wall = [w for w, _ in decide_us]
    cpu = [c for _, c in decide_us]
    p50 = statistics.median(wall)
    naive = [s for s, _, _ in scans]
    naive_p50 = statistics.median(naive)
    compared = sum(n for _, _, n in scans)
    agree = sum(a for _, a, _ in scans)
    return {
        "helpers": runner_n,
        "build_s": round(build_s, 2),
        "decisions": len(wall),
        "p50_us": round(p50, 1),
        "p99_us": round(nearest_rank(wall, 0.99), 1),
        "cpu_p50_us": round(statistics.median(cpu), 1),
        "cpu_p99_us": round(nearest_rank(cpu, 0.99), 1),
        "search_p50_us": round(statistics.median(search_us), 1),
        "search_p99_us": round(nearest_rank(search_us, 0.99), 1),
        "naive_runs": len(naive),
        "naive_p50_us": round(naive_p50, 1),
        "naive_p99_us": round(nearest_rank(naive, 0.99), 1),
        "speedup_p50": round(naive_p50 / p50, 1),
        "offers_per_decision": round(statistics.mean(offers), 2),
        # Share of needs for which the index chose exactly the scan's helpers: 1.0 where
        # the rings fit the scan limit; lower where a huge ring is read through a window.
        "agreement_with_scan": round(agree / compared, 3) if compared else None,
    }


def run_size(n: int, decisions: int, naive_runs: int, seed: int) -> dict[str, Any]:
    """The current code alone, in this process."""
    print(f"building a community of {n:,} helpers…", file=sys.stderr, flush=True)
    runner = MatchRunner(n, decisions, seed)
    # Here, not at the top: `--compare` loads this file against another checkout's package.
    from dispatcher.bench.machine_speed import python_ms

    speed = python_ms()  # the interpreter's speed now, to read this run against another day's
    timed = runner.time_decide(0, decisions)
    searched = runner.time_search(0, decisions)
    print(f"  scanning all {n:,} helpers {naive_runs}×…", file=sys.stderr, flush=True)
    scans = [runner.time_scan(i) for i in range(naive_runs)]
    return summarise(n, runner.build_s, timed, searched, scans, runner.offers) | {
        "machine_python_ms": speed
    }


def serve() -> None:
    """Child side of `--compare`: build one community, then answer timing requests, one
    JSON line in, one JSON line out, until stdin closes."""
    runner: MatchRunner | None = None
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg["op"]
        result: Any
        if op == "build":
            runner = MatchRunner(msg["n"], msg["decisions"], msg["seed"], progress=False)
            result = {"build_s": runner.build_s, "offers": runner.offers}
        elif runner is None:
            raise RuntimeError("build first")
        elif op == "decide":
            result = runner.time_decide(msg["start"], msg["count"])
        elif op == "search":
            result = runner.time_search(msg["start"], msg["count"])
        elif op == "scan":
            result = runner.time_scan(msg["i"])
        elif op == "digest":
            result = runner.digest()
        else:
            raise ValueError(f"unknown op {op!r}")
        print(json.dumps(result), flush=True)
