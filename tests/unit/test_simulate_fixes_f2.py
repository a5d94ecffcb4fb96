"""Review 31's simulator findings: `--from-db` fitting keeps the model's urgency dependence,
plan files cannot take another policy's name, bad input exits 2 with a message naming it
(never a traceback), short runs count offers per week right, and goal checks a run cannot
measure read "not measured" instead of MISSED (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.record.read.history import OfferAnswer
from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.cli import main as simulate_main
from dispatcher.simulate.cli import render_table
from dispatcher.simulate.history import fit
from dispatcher.simulate.metrics import goal_check, summarise
from dispatcher.simulate.outcomes import HelperOffers, Run
from dispatcher.simulate.policies import resolve_policies
from dispatcher.simulate.scenario import Scenario
from dispatcher.simulate.world import local_midnight
from schemas.vocab import Ring, Urgency

START = local_midnight("2026-09-01")
# 10:00 local on a Sunday: neither night nor working hours.
DAYTIME = datetime(2026, 11, 1, 2, tzinfo=UTC)
OFFERS_PER_URGENCY = 20


def model_like_history(b: Behaviour, helper_ids: list[str]) -> list[OfferAnswer]:
    """Each helper answers each urgency's offers at exactly the model's rate, each answer
    after exactly the model's median delay for that urgency (compound ring, by day)."""
    rows = []
    for hid in helper_ids:
        for urgency in Urgency:
            answers = round(OFFERS_PER_URGENCY * b.answer_base[urgency])
            delay = timedelta(seconds=b.median_delay_s[urgency])
            for i in range(OFFERS_PER_URGENCY):
                answered = i < answers
                rows.append(
                    OfferAnswer(
                        hid,
                        "accepted" if answered else "expired",
                        urgency.value,
                        Ring.COMPOUND.value,
                        DAYTIME,
                        DAYTIME + delay if answered else None,
                    )
                )
    return rows


def test_fit_is_a_ratio_to_the_model_per_urgency() -> None:
    b = Behaviour()
    fitted = fit(model_like_history(b, ["h1"]), b)
    assert fitted["h1"] == pytest.approx((1.0, 1.0))
    # Twice as slow at every urgency: critical answers still come in 70 s, not 900 s.
    slow = [
        row._replace(answered_at=row.sent_at + 2 * (row.answered_at - row.sent_at))
        for row in model_like_history(b, ["h1"])
        if row.answered_at is not None
    ]
    assert fit(slow, b)["h1"][1] == pytest.approx(2.0)


def test_fit_takes_out_ring_and_night() -> None:
    b = Behaviour()
    night = DAYTIME.replace(hour=17)  # 01:00 local
    seconds = b.median_delay_s[Urgency.URGENT] * b.ring_delay[Ring.COMMUNITY] * b.night_delay
    rows = [
        OfferAnswer(
            "h1", "accepted", "urgent", "community", night, night + timedelta(seconds=seconds)
        )
    ] * 5
    propensity, pace = fit(rows, b)["h1"]
    assert pace == pytest.approx(1.0)
    expected = b.answer_base[Urgency.URGENT] * b.ring_answer[Ring.COMMUNITY] * b.night_answer
    assert propensity == pytest.approx(1.0 / expected)


Fitting = Callable[[Behaviour, list[str]], dict[str, tuple[float, float]]]


def model_and_fitted(fitting: Fitting, *, seed: int, days: int) -> tuple[str, str]:
    """The JSON of the model's run and of the same run with every helper fitted. No
    synthetic spread between helpers: the model's helpers all have propensity 1."""
    model = Behaviour(helper_propensity_sigma=0.0)
    plain = Scenario.demo(behaviour=model, seed=seed, start=START, days=days)
    fitted = fitting(model, [h.helper_id for h in plain.helpers])
    assert len(fitted) == len(plain.helpers)
    with_fit = replace(plain, behaviour=replace(model, fitted=fitted))
    policies = resolve_policies(["plans"])
    expected, _ = plain.compare(policies)
    assert expected["policies"]["plans"]["critical_requests"] > 0
    got, _ = with_fit.compare(policies)
    return json.dumps(expected, sort_keys=True), json.dumps(got, sort_keys=True)


def test_a_helper_fitted_as_the_model_simulates_like_the_model() -> None:
    expected, got = model_and_fitted(
        lambda b, ids: fit(model_like_history(b, ids), b), seed=1, days=7
    )
    assert got == expected


def test_fitted_ratios_of_one_leave_each_urgency_its_model_rate_and_delay() -> None:
    expected, got = model_and_fitted(lambda b, ids: dict.fromkeys(ids, (1.0, 1.0)), seed=2, days=3)
    assert got == expected


def test_plan_files_cannot_share_a_policy_name(tmp_path: Path) -> None:
    plan = json.dumps({"low": {"steps": [{"ring": "grid", "wave_size": 2, "wait_s": 60}],
                               "offer_ttl_s": 600, "lifetime_s": 7200}})  # fmt: skip
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "my.json").write_text(plan)
    (tmp_path / "plans.json").write_text(plan)
    with pytest.raises(ValueError, match=r"'my' is already .*a/my\.json's"):
        resolve_policies([str(tmp_path / "a/my.json"), str(tmp_path / "b/my.json")])
    with pytest.raises(ValueError, match="built-in policy 'plans'"):
        resolve_policies(["nearest", str(tmp_path / "plans.json")])
    with pytest.raises(ValueError, match="listed twice"):
        resolve_policies(["plans", "plans"])
    assert list(resolve_policies(["plans", str(tmp_path / "a/my.json")])) == ["plans", "my"]


BAD_PLANS = {
    "number.json": ({"critical": 5}, "number.json:critical: expected an object"),
    "invalid.json": ({"critical": {"steps": "oops"}}, "invalid.json:critical: steps"),
    "urgency.json": ({"urgentx": {}}, "urgency.json:urgentx: not an urgency"),
    "mismatch.json": ({"critical": {"urgency": "low"}}, "mismatch.json:critical: the plan says"),
}
BAD_BEHAVIOUR = {
    "text": ({"night_answer": "x"}, "night_answer: expected a number"),
    "bool": ({"night_answer": True}, "night_answer: expected a number"),
    "negative": ({"delay_sigma": -1}, "delay_sigma: expected a number >= 0"),
    "hours": ({"hour_weights": [1, 2]}, "hour_weights: expected a list of 24 numbers"),
    "weekdays": ({"weekday_weights": [1.0] * 6}, "weekday_weights: expected a list of 7"),
    "zero weights": ({"hour_weights": [0] * 24}, "hour_weights: at least one weight"),
    "hour": ({"night_start_hour": 25}, "night_start_hour: expected an hour 0-24"),
    "work hour": ({"work_hours": [9.5, 18]}, "work_hours[0]: expected an hour 0-24"),
    "key": ({"answer_base": {"critcal": 0.5}}, "answer_base: unknown key 'critcal'"),
    "dict value": ({"ring_answer": {"grid": "x"}}, "ring_answer.grid: expected a number"),
    "not a dict": ({"answer_base": 0.5}, "answer_base: expected an object"),
    "fitted": ({"fitted": {"h1": [1.0]}}, "fitted.h1: expected [propensity, pace]"),
    "rate": ({"requests_per_day": 0}, "requests_per_day: must be above 0"),
}


@pytest.mark.parametrize("case", list(BAD_PLANS))
def test_bad_plan_file_exits_2_naming_file_and_urgency(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, message = BAD_PLANS[case]
    path = tmp_path / case
    path.write_text(json.dumps(body))
    assert simulate_main(["--days", "1", "--no-report", "--policies", f"plans,{path}"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("case", list(BAD_BEHAVIOUR))
def test_bad_behaviour_file_exits_2_naming_the_field(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, message = BAD_BEHAVIOUR[case]
    path = tmp_path / "behaviour.json"
    path.write_text(json.dumps(body))
    assert simulate_main(["--days", "1", "--no-report", "--behaviour", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err


def test_behaviour_override_merges_into_the_models_dict() -> None:
    b = Behaviour().with_overrides({"answer_base": {"critical": 0.9}, "work_hours": [8, 17]})
    assert b.answer_base == {**Behaviour().answer_base, Urgency.CRITICAL: 0.9}
    assert b.work_hours == (8, 17)
    sc = Scenario.demo(behaviour=b, seed=1, start=START, days=1)
    result, _ = sc.compare(resolve_policies(["plans"]))  # every urgency is answered
    assert result["policies"]["plans"]["requests"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-02-30"], "--start '2026-02-30': not a date"),
        (["--start", "yesterday"], "--start 'yesterday': not a date"),
        (["--policies", ""], "no policy given"),
        (["--policies", " , "], "no policy given"),
        (["--requests-per-day", "-5"], "--requests-per-day must be above 0"),
        (["--requests-per-day", "nan"], "--requests-per-day must be above 0"),
        (["--from-db", "--community", "c", "--since", "soon"], "--since 'soon': not a date"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert simulate_main(["--days", "1", "--no-report", *args]) == 2
    assert message in capsys.readouterr().err


def test_out_at_a_file_exits_2_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for out in (a_file, a_file / "sub"):
        assert simulate_main(["--days", "1", "--policies", "plans", "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert f"--out {out}: cannot make the report directory" in captured.err
        assert captured.out == ""  # refused before the run, not after it


def _run(days: int, offers: dict[str, list[float]]) -> Run:
    return Run(
        policy="plans",
        outcomes={},
        helpers={h: HelperOffers(times_s=t) for h, t in offers.items()},
        helper_ids=tuple(offers),
        staff_ids=frozenset(),
        days=days,
    )


def test_offers_per_helper_week_counts_a_short_run_as_part_of_a_week() -> None:
    two_days = _run(2, {"a": [10.0, 20.0, 30.0, 40.0], "b": [50.0, 60.0]})
    # 3 offers each in 2 days: 10.5 a week.
    assert summarise(two_days)["offers_per_helper_week_mean"] == 10.5
    fortnight = _run(14, {"a": [10.0] * 4, "b": [10.0] * 2})
    assert summarise(fortnight)["offers_per_helper_week_mean"] == 1.5


def _metrics(critical: float | None, per_answered: float | None) -> dict[str, object]:
    return {
        "critical_accepted_within_2min": critical,
        "notifications_per_answered": per_answered,
        "max_offers_per_helper_week": 3,
    }


def test_goal_checks_a_run_cannot_measure_are_not_missed() -> None:
    goal = goal_check({"plans": _metrics(None, 5.0), "nearest": _metrics(None, 2.0)})
    assert goal is not None
    assert goal["checks"] == {
        "critical_accepted_within_2min": None,
        "notifications_vs_broadcast": None,
        "max_offers_per_helper_week": True,
    }
    assert goal["met"] is True
    # Measured ones still count: a broadcast in the run, a critical request missed.
    measured = goal_check({"plans": _metrics(0.5, 5.0), "broadcast": _metrics(1.0, 100.0)})
    assert measured is not None
    assert measured["checks"]["notifications_vs_broadcast"] is True
    assert measured["checks"]["critical_accepted_within_2min"] is False
    assert measured["met"] is False
    # Plans nobody answered, against a broadcast that got answers: compared, and missed.
    unanswered = goal_check({"plans": _metrics(None, None), "broadcast": _metrics(1.0, 9.0)})
    assert unanswered is not None
    assert unanswered["checks"]["notifications_vs_broadcast"] is False


def test_the_table_and_json_say_not_measured(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--days", "1", "--no-report", "--policies", "plans,nearest"]
    assert simulate_main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["goal"]["checks"]["notifications_vs_broadcast"] is None
    assert "notifications_vs_broadcast not measured" in render_table(result)
    assert simulate_main(args) == 0
    assert "notifications_vs_broadcast not measured" in capsys.readouterr().out
