"""Issue 18's goals beside a run's own figures: each headline figure, its goal, and whether
this run met it, so a reader of one run's JSON or table need not look the goals up.

The goals are the issue's ("What it must show"), for the default scenario set of
`bench e2e` (50, 200 and 500 req/s, then the ceiling searches) and `bench match` at 1 M
helpers: a run of other scenarios (`--quick`, `--rates`, `--no-ceiling`, ...) or a figure
the run did not measure is reported with `met: null`, never "met"; so is a figure that
cannot be judged, with the reason (`why`: a CPU reading missing). A figure measured on
requests that failed is NOT met, whatever its value (`why`: how many were not served), and
a ceiling search that held no rate reads 0. A verdict is about this run on this machine:
the figures move with the machine's speed (`machine_speed`), printed beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Goal:
    path: tuple[str, ...]  # where the figure is in the run's JSON
    op: Literal["<=", ">="]
    target: float
    unit: str
    # Where the run says the figure failed: a count of requests not served, or a reason.
    # Any makes the goal NOT met (a percentile over survivors is no verdict).
    failed: tuple[str, ...] | None = None
    # Where the run says why the figure cannot be judged (no verdict, with that reason).
    unjudged: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.target if self.op == "<=" else value >= self.target


E2E = (
    Goal(("ceiling_req_s_one_worker",), ">=", 400, "req/s"),
    Goal(
        ("cpu_ms_per_request", "total"),
        "<=",
        5,
        "ms",
        failed=("cpu_ms_per_request", "failed"),
        unjudged=("cpu_ms_per_request", "not_judged"),
    ),
    Goal(("intake_p50_ms",), "<=", 2, "ms", failed=("intake_unserved",)),
    # A ratio: over a floor whose quarters disagree by more than 2x (`e2e_floor.unsteady`)
    # it measures the machine's stalls, so it judges nothing (before session 34 a run whose
    # floor's first quarter read 10.39 ms, the last 1.65, was "met" at 4.62).
    Goal(
        ("e2e_p99_over_floor",),
        "<=",
        5,
        "",
        failed=("e2e_unserved",),
        unjudged=("floor_unsteady",),
    ),
)
# `bench match`: a whole `decide()`'s p99 at a million helpers.
MATCH_HELPERS = 1_000_000
MATCH = Goal(("p99_us",), "<=", 200, "µs")


def _get(result: Mapping[str, Any], path: tuple[str, ...] | None) -> Any:
    if path is None:
        return None
    value: Any = result
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _at(result: Mapping[str, Any], path: tuple[str, ...]) -> float | None:
    value = _get(result, path)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _failure(goal: Goal, result: Mapping[str, Any]) -> str | None:
    failed = _get(result, goal.failed)
    if isinstance(failed, str) and failed:
        return failed
    if isinstance(failed, int) and not isinstance(failed, bool) and failed > 0:
        return f"{failed} requests not served"
    return None


def verdict(goal: Goal, result: Mapping[str, Any], judged: bool = True) -> dict[str, Any]:
    value = _at(result, goal.path)
    out: dict[str, Any] = {"value": value, "goal": f"{goal.op} {goal.target:g}", "met": None}
    if not judged:
        return out
    if (failed := _failure(goal, result)) is not None:
        return out | {"met": False, "why": failed}
    if isinstance(unjudged := _get(result, goal.unjudged), str) and unjudged:
        return out | {"why": unjudged}
    return out | {"met": goal.met(value)}


def e2e(result: Mapping[str, Any], scenario_changes: list[str]) -> dict[str, Any]:
    """`bench e2e`'s headline figures against the issue's goals; a run whose scenarios differ
    from the default set (`scenario_changes`, e.g. `quick=True`) gets its values and no
    verdict (`met: null`), and says why (`not_judged`)."""
    out: dict[str, Any] = {g.name: verdict(g, result, not scenario_changes) for g in E2E}
    return out | _why_not(scenario_changes)


def match(result: Mapping[str, Any], scenario_changes: list[str]) -> dict[str, Any] | None:
    """A `bench match` size's p99 against the goal; None for a size the goal is not about; no
    verdict for other decisions than the default (`scenario_changes`), as for `e2e`."""
    if result.get("helpers") != MATCH_HELPERS:
        return None
    return verdict(MATCH, result, not scenario_changes) | _why_not(scenario_changes)


def _why_not(scenario_changes: list[str]) -> dict[str, str]:
    if not scenario_changes:
        return {}
    return {"not_judged": "not the default scenario set: " + ", ".join(scenario_changes)}


def word(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "NOT met")


def line(verdicts: Mapping[str, Any]) -> str:
    """One printed line: `name value (goal ...): met`, each figure."""
    units = {g.name: g.unit for g in (*E2E, MATCH)}
    why = verdicts.get("not_judged")
    parts = []
    for name, v in verdicts.items():
        if name == "not_judged":
            continue
        value = "-" if v["value"] is None else f"{v['value']:g}"
        unit = units.get(name, "")
        shown = f"{value} {unit}" if unit else value
        said = _said(v, why)
        parts.append(f"{name} {shown} (goal {v['goal']}): {said}")
    return "goals (issue 18): " + "; ".join(parts) + (f" ({why})" if why else "")


def _said(v: Mapping[str, Any], run_not_judged: str | None) -> str:
    if run_not_judged and v["value"] is not None:
        return "not judged"
    if v.get("why"):
        return ("NOT met" if v["met"] is False else "not judged") + f" ({v['why']})"
    return word(v["met"])
