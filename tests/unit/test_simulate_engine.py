"""The what-if simulator: determinism for a seed, event ordering, common random numbers,
and that it really drives the core's ladder (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.cli import main as simulate_main
from dispatcher.simulate.draws import Draws
from dispatcher.simulate.metrics import gini, percentile
from dispatcher.simulate.policies import load_plan_file, resolve_policies
from dispatcher.simulate.scenario import Scenario
from dispatcher.simulate.world import local_midnight
from schemas.plans import DEFAULT_PLANS
from schemas.vocab import Ring, Urgency

START = local_midnight("2026-09-01")
THREE = ["plans", "broadcast", "nearest"]


def scenario(days: int = 2, seed: int = 1, **behaviour: object) -> Scenario:
    return Scenario.demo(
        behaviour=Behaviour().with_overrides(behaviour), seed=seed, start=START, days=days
    )


def test_same_seed_same_json_different_seed_different() -> None:
    first, _ = scenario(seed=3).compare(resolve_policies(THREE))
    again, _ = scenario(seed=3).compare(resolve_policies(THREE))
    other, _ = scenario(seed=4).compare(resolve_policies(THREE))
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert json.dumps(first, sort_keys=True) != json.dumps(other, sort_keys=True)
    for name in THREE:
        metrics = first["policies"][name]
        for key in (
            "critical_accepted_within_2min",
            "notifications_per_answered",
            "max_offers_per_helper_week",
            "time_to_accept_s",
            "never_answered_share",
        ):
            assert key in metrics


def test_cli_json_is_identical_across_runs(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--days", "1", "--seed", "5", "--json", "--no-report"]
    assert simulate_main(args) == 0
    first = capsys.readouterr().out
    assert simulate_main(args) == 0
    assert capsys.readouterr().out == first
    assert set(json.loads(first)["policies"]) == set(THREE)


def test_commands_are_decided_in_time_order_and_requests_start_with_submit() -> None:
    run = scenario(days=2).run("plans", DEFAULT_PLANS, trace=True)
    times = [line.t for line in run.trace]
    assert times == sorted(times)
    first_command: dict[str, str] = {}
    for line in run.trace:
        first_command.setdefault(line.request_id, line.command)
    assert set(first_command.values()) == {"submit_request"}
    # Every submission is answered by the core with an opened request.
    opened = [line for line in run.trace if line.command == "submit_request"]
    assert all(line.events[0][0] == "request_opened" for line in opened)


def test_requests_arriving_together_are_decided_in_arrival_order() -> None:
    sc = scenario(days=1)
    first, second = sc.arrivals[0], sc.arrivals[1]
    same_time = [
        a.__class__(first.at, a.spec) for a in sc.arrivals[:2]
    ]  # two requests at one instant
    sc.arrivals = [*same_time, *sc.arrivals[2:]]
    run = sc.run("plans", DEFAULT_PLANS, trace=True)
    submits = [line.request_id for line in run.trace if line.command == "submit_request"]
    assert submits[:2] == [first.spec.request_id, second.spec.request_id]


def test_draws_depend_on_seed_and_key_only() -> None:
    assert Draws(1).uniforms("offer", "r1", "h1") == Draws(1).uniforms("offer", "r1", "h1")
    assert Draws(1).uniforms("offer", "r1", "h1") != Draws(2).uniforms("offer", "r1", "h1")
    assert Draws(1).uniforms("offer", "r1", "h1") != Draws(1).uniforms("offer", "r1", "h2")
    assert all(0 < u < 1 for u in Draws(9).uniforms("x", n=4))


def test_policies_face_the_same_requests_and_answer_alike_when_offered_alike() -> None:
    sc = scenario(days=2)
    plans = sc.run("plans", DEFAULT_PLANS, trace=True)
    nearest = sc.run("nearest", resolve_policies(["nearest"])["nearest"], trace=True)
    assert set(plans.outcomes) == set(nearest.outcomes) == {a.spec.request_id for a in sc.arrivals}

    def answers(trace: list) -> dict[tuple[str, str], str]:  # type: ignore[type-arg]
        out = {}
        for line in trace:
            if line.command in {"accept_offer", "decline_offer"}:
                helper = next((h for _, h in line.events if h), None)
                if helper is not None:
                    out[(line.request_id, helper)] = line.command
        return out

    a, b = answers(plans.trace), answers(nearest.trace)
    common = set(a) & set(b)
    assert common  # both policies offered some of the same people the same request
    assert all(a[k] == b[k] for k in common)  # and each said the same in both


def test_nobody_answering_climbs_the_whole_ladder() -> None:
    sc = scenario(days=2, answer_base={u.value: 0.0 for u in Urgency})
    result, runs = sc.compare(resolve_policies(["plans", "broadcast"]))
    plans = result["policies"]["plans"]
    assert plans["never_answered_share"] == 1.0
    # Every plan ends with the whistle: an unanswered request always reaches staff.
    whistle = {
        u: {o.whistle for o in runs["plans"].outcomes.values() if o.urgency is u} for u in Urgency
    }
    assert all(whistle[u] == {True} for u in Urgency)
    critical = plans["critical_requests"]
    assert critical > 0
    assert plans["referred_to_emergency"] == critical  # only the critical plan has 120
    assert plans["notifications_per_answered"] is None
    for outcome in runs["plans"].outcomes.values():
        assert outcome.status == "expired"
    # A broadcast reaches the whole community group for every request.
    groups = {100, 101, 102}
    assert {o.notified for o in runs["broadcast"].outcomes.values()} <= groups


def test_everyone_answering_fills_critical_requests_fast() -> None:
    sc = scenario(
        days=3,
        answer_base={u.value: 1.0 for u in Urgency},
        accept_given_answer={u.value: 1.0 for u in Urgency},
        night_answer=1.0,
        work_answer=1.0,
        fatigue_per_offer=0.0,
        median_delay_s={u.value: 10.0 for u in Urgency},
    )
    result, _ = sc.compare(resolve_policies(["plans"]))
    plans = result["policies"]["plans"]
    assert plans["critical_accepted_within_2min"] == 1.0
    assert plans["never_answered_share"] == 0.0


def test_metric_helpers() -> None:
    assert percentile([], 0.50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0
    assert gini([1.0, 1.0, 1.0]) == 0.0
    assert gini([0.0, 0.0, 0.0, 4.0]) == pytest.approx(0.75)


def test_plan_file_policy(tmp_path: Path) -> None:
    path = tmp_path / "wide-first.json"
    path.write_text(
        json.dumps(
            {
                "critical": {
                    "steps": [
                        {"ring": "compound", "wave_size": 8, "wait_s": 60},
                        {"ring": "whistle", "wave_size": 5, "wait_s": 600},
                    ],
                    "offer_ttl_s": 600,
                    "lifetime_s": 7200,
                    "respect_do_not_disturb": False,
                }
            }
        )
    )
    policies = resolve_policies(["plans", str(path)])
    assert list(policies) == ["plans", "wide-first"]
    assert policies["wide-first"][Urgency.CRITICAL].steps[0].ring is Ring.COMPOUND
    assert policies["wide-first"][Urgency.NORMAL] == DEFAULT_PLANS[Urgency.NORMAL]
    path.write_text(json.dumps({"critical": {"steps": []}}))
    with pytest.raises(ValueError):
        load_plan_file(path)
    with pytest.raises(ValueError):
        resolve_policies(["radius"])


def test_local_midnight() -> None:
    assert local_midnight("2026-09-01") == datetime(2026, 8, 31, 16, tzinfo=UTC)


def test_history_fit_counts_answers_and_ignores_stood_down_offers() -> None:
    from datetime import timedelta

    from dispatcher.record.read.history import OfferAnswer
    from dispatcher.simulate.history import fit

    b = Behaviour()
    t = datetime(2026, 11, 1, 2, tzinfo=UTC)  # 10:00 local: by day

    def offers(helper: str, status: str, seconds: float | None, n: int) -> list[OfferAnswer]:
        at = None if seconds is None else t + timedelta(seconds=seconds)
        return [OfferAnswer(helper, status, "critical", "compound", t, at)] * n

    rows = offers("a", "accepted", 30, 3) + offers("a", "declined", 90, 1)
    rows += offers("a", "expired", None, 4) + offers("a", "stood_down", None, 10)
    rows += offers("b", "accepted", 5, 2)  # too few offers
    # 4 answers where the model expects 8 x 0.55; half of them within 30 s of its 35 s.
    assert fit(rows, b) == {"a": (pytest.approx(4 / 4.4), pytest.approx(30 / 35))}


def test_fitted_helpers_answer_by_their_own_rate() -> None:
    never = scenario(days=2, fitted={h: (0.0, 60.0) for h in _roster_ids()})
    result, _ = never.compare(resolve_policies(["plans"]))
    assert result["policies"]["plans"]["never_answered_share"] == 1.0


def _roster_ids() -> list[str]:
    return [h.helper_id for h in scenario(days=1).helpers]


def test_parallel_policies_give_the_same_result() -> None:
    sc = scenario(days=1, seed=8)
    alone, _ = sc.compare(resolve_policies(THREE), jobs=1)
    together, _ = sc.compare(resolve_policies(THREE), jobs=3)
    assert json.dumps(alone, sort_keys=True) == json.dumps(together, sort_keys=True)
