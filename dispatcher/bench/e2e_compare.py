"""`bench e2e --compare REV`: another revision's worker and API beside this checkout's.

The machine is shared and noisy, so a before/after of two separate bench runs minutes apart
compares two machines as much as two versions. Here one command runs the same scenarios
(same city, seed, rates) with REV's packages and with this checkout's, whole runs
alternating which tree goes first each round, and reports every run's figures and each
tree's medians. Only the processes under test change: the load generator, the phone
(receiver), the floor, the topics and the migrations are this checkout's, so both trees
are measured by the same code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import tempfile
from pathlib import Path
from typing import Any

from dispatcher.bench.e2e import Bench
from dispatcher.bench.e2e_options import Options, Progress
from dispatcher.bench.e2e_stats import GC_FIGURES
from dispatcher.bench.match_compare import extract, resolve

# The headline's scalar figures compared (see e2e_stats.headline).
FIGURES = (
    "ceiling_req_s_one_worker",
    "intake_p50_ms",
    "intake_p99_ms",
    "generator_lateness_p50_ms",  # the load generator's own part of the two above
    "generator_lateness_p99_ms",
    "e2e_p50_over_floor",
    "e2e_p99_over_floor",
    "floor_p50_ms",
    "floor_p99_ms",
    # Requests the intake and e2e figures' runs did not serve (counted in them as never).
    "intake_unserved",
    "e2e_unserved",
    *GC_FIGURES,
)
PACKAGES = ("dispatcher", "schemas", "streams")  # what the worker and the API import
# Fixed-rate scenarios compared, by the figure names' prefix (`PREFIX_p50_ms@RATE`, `_p99_`).
_SCENARIO_FIGURES = {
    "intake_to_first_offer": "first_offer",
    "answer_to_first_offer": "offer_after_202",
    "answer_to_offer_record": "offer_record_after_202",
    "offer_record_to_observer": "observer_after_offer_record",
    "intake_to_phone": "phone",
    "offer_record_to_phone": "phone_after_offer_record",
}


def _figures(run: dict[str, Any]) -> dict[str, Any]:
    """One run's figures: the headline scalars, CPU ms per request (total and per process),
    the intake's phases by the API's Server-Timing (when its tree reports them), and
    intake → first offer p50/p99 at each fixed rate, its part after the 202, and of that the
    part until the worker's events record was stamped; intake → phone, and its part after
    that record."""
    out: dict[str, Any] = {k: run.get(k) for k in FIGURES}
    # The machine's speed before each run: how far the runs' machines differed.
    for name, value in ((run.get("machine") or {}).get("speed") or {}).items():
        out[f"machine.{name}"] = value
    cpu = run.get("cpu_ms_per_request") or {}
    out["cpu_ms_per_request"] = cpu.get("total")
    for share in ("service_total", "harness_total"):
        out[f"cpu_ms_per_request.{share}"] = cpu.get(share)
    for proc, ms in (cpu.get("per_process") or {}).items():
        out[f"cpu_ms_per_request.{proc}"] = ms
    for phase, ms in (run.get("intake_phases_ms") or {}).items():
        out[f"intake_phase_p50_ms.{phase}"] = ms.get("p50_ms")
        out[f"intake_phase_p99_ms.{phase}"] = ms.get("p99_ms")
    # How the workers took the commands: copies sent, and of those decided at their
    # acknowledgement (streams/late_commands.py), when the tree reports them.
    for ws in run.get("worker_stats") or []:
        for count in ("commands", "reissued", "decided_at_ack"):
            if count in ws:
                out[f"{ws['worker']}.{count}"] = ws[count]
    for s in run.get("scenarios", []):
        prefix = _SCENARIO_FIGURES.get(s.get("name", ""))
        if prefix is not None and s.get("kind") == "fixed_rate":
            rate = f"{s['offered_rate']:g}"
            out[f"{prefix}_p50_ms@{rate}"] = s.get("p50_ms")
            out[f"{prefix}_p99_ms@{rate}"] = s.get("p99_ms")
    return out


def _median(values: list[Any]) -> float | None:
    """Of the runs that measured the figure: a ceiling search that held nothing reads 0 and
    a percentile that fell on a request never served reads inf, so failed runs count."""
    nums = [v for v in values if _measured(v)]
    return round(statistics.median(nums), 2) if nums else None


def _measured(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """field → {"base": median, "this": median} over every run of each tree, and
    `not_measured` ({tree: runs}) when some of a tree's runs lack the figure: its median
    is then over the others only."""
    fields = list(dict.fromkeys(k for r in runs for k in r["figures"]))
    out: dict[str, dict[str, Any]] = {}
    for f in fields:
        row: dict[str, Any] = {}
        lacking: dict[str, int] = {}
        for tree in ("base", "this"):
            values = [r["figures"].get(f) for r in runs if r["tree"] == tree]
            row[tree] = _median(values)
            if 0 < (n := sum(1 for v in values if not _measured(v))) < len(values):
                lacking[tree] = n
        out[f] = row | ({"not_measured": lacking} if lacking else {})
    return out


def compare(
    opts: Options, rev: str, rounds: int, base_env: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """`base_env`: settings of the base's worker and API (`--base-env`), over the run's."""
    commit = resolve(rev)
    settings = ", ".join(f"{k}={v}" for k, v in base_env)
    progress = Progress()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-base-") as tmp:
        trees: dict[str, Path | None] = {
            "base": extract(commit, Path(tmp), PACKAGES),
            "this": None,
        }
        for r in range(max(1, rounds)):
            order = ("base", "this") if r % 2 == 0 else ("this", "base")
            for tree in order:
                which = commit[:7] if tree == "base" else "this checkout"
                if tree == "base" and settings:
                    which += f", {settings}"
                progress.phase(f"round {r + 1}/{rounds}: {tree} ({which})")
                env = opts.extra_env + base_env if tree == "base" else opts.extra_env
                bench = Bench(
                    dataclasses.replace(opts, code_dir=trees[tree], extra_env=env), progress
                )
                run = asyncio.run(bench.run())
                runs.append(
                    {
                        "round": r + 1,
                        "tree": tree,
                        "figures": _figures(run),
                        "notes": run.get("notes", []),
                    }
                )
    return {
        "bench": "e2e",
        "compare": {
            "base": commit,
            "base_env": dict(base_env),
            "this": resolve("HEAD"),
            "rounds": rounds,
        },
        "settings": {k: str(v) for k, v in dataclasses.asdict(opts).items()},
        "median": summarise(runs),
        "runs": runs,
    }
