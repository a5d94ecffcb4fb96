"""`classify eval`: the report's numbers follow from the cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatcher.api.classifying import classify_off_loop
from dispatcher.classify import classify
from dispatcher.classify.cli import main
from dispatcher.classify.evaluate import evaluate, within_one
from schemas.vocab import Urgency

CASES = [
    # right on every field
    {
        "text": "我爸晕倒了，叫不醒",
        "expect": {"is_request": True, "urgency": "critical", "emergency_number": "120"},
        "red_flag": True,
    },
    # a request judged correctly, with a wrong category label on purpose
    {
        "text": "周六需要两个人帮忙搬沙发",
        "expect": {"is_request": True, "urgency": "normal", "category": "medical"},
    },
    # not a request, labelled as one: a recall miss
    {"text": "早上好", "expect": {"is_request": True, "urgency": "low"}},
    # a request labelled as not one: a precision miss
    {"text": "谁能帮我修一下水龙头", "expect": {"is_request": False}},
]


def test_report_counts_follow_from_the_cases() -> None:
    report = evaluate(CASES, classify)
    assert report["messages"] == 4
    assert report["counts"]["is_request"] == [2, 4]
    assert report["is_request"] == {"precision": 0.6667, "recall": 0.6667}
    assert report["counts"]["category"] == [0, 1]
    assert report["confusion"]["category"] == {"medical": {"carrying": 1}}
    assert report["safety_recall"] == 1.0 and report["red_flag_messages"] == 1
    failed = {f["text"]: f["fields"] for f in report["failures"]}
    assert set(failed) == {"周六需要两个人帮忙搬沙发", "早上好", "谁能帮我修一下水龙头"}
    assert "category" in failed["周六需要两个人帮忙搬沙发"]


def test_a_missed_red_flag_is_a_safety_failure() -> None:
    case = {"text": "今天天气不错", "expect": {"is_request": True}, "red_flag": True}
    report = evaluate([case], classify)
    assert report["safety_recall"] == 0.0 and report["failures"][0]["fields"][-1] == "safety"


def test_within_one_level() -> None:
    assert within_one("urgent", Urgency.CRITICAL) and within_one("urgent", Urgency.NORMAL)
    assert not within_one("low", Urgency.URGENT)
    assert within_one("low or critical", Urgency.URGENT)


def test_eval_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CASES), "utf-8")
    assert main(["eval", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["messages"] == 4 and report["failures"]
    assert main(["eval", str(path)]) == 0
    assert "safety recall" in capsys.readouterr().out


def test_eval_rules_only_leaves_the_model_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A paraphrase only the red-flag model catches (no table names it); a false alarm counted.
    cases = [
        {
            "text": "我看到一个大爷坐在长椅上歪过去了，叫他不理人",
            "expect": {"is_request": True},
            "red_flag": True,
        },
        {"text": "楼道里着火了", "expect": {"is_request": False}, "red_flag": False},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases), "utf-8")
    assert main(["eval", str(path), "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert main(["eval", str(path), "--json", "--rules-only"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert both["safety_recall"] == 1.0 and alone["safety_recall"] == 0.0
    assert both["false_alarms"] == alone["false_alarms"] == 1


def test_eval_command_refuses_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["eval"])
def test_subcommand_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and "example" in capsys.readouterr().out


async def test_off_loop_classification_matches_and_times_out_as_503() -> None:
    text = "我老婆懷孕八個月，肚子一陣一陣疼，誰能開車送我們去醫院"
    assert await classify_off_loop(text, 5.0) == classify(text)
    with pytest.raises(Exception) as refused:
        await classify_off_loop(text, 0)  # no time at all: the limit, not the classifier
    detail = getattr(refused.value, "detail", None)
    assert getattr(refused.value, "status_code", None) == 503
    assert isinstance(detail, dict) and detail["reason"] == "classify_timeout"
    assert detail["reply_text"].startswith("如有人生命危险")


CORPUS = Path(__file__).resolve().parent.parent / "data" / "classifier_corpus"


def test_test_split_meets_the_issue_bars_except_full_safety_recall() -> None:
    """A regression guard at the first (and only) measurement of test v4, rules + model:
    is_request 97.5 %, within one 98.3 %, category 91.5 %, skills 96.4 %, safety 33/34.
    The goal for safety recall is 100 %; the miss is listed in the README."""
    lines = (CORPUS / "test.jsonl").read_text(encoding="utf-8").splitlines()
    report = evaluate([json.loads(line) for line in lines if line.strip()], classify)
    accuracy = report["accuracy"]
    assert accuracy["is_request"] >= 0.97 and report["urgency_within_one"] >= 0.95
    assert accuracy["category"] >= 0.90 and accuracy["skills"] >= 0.90
    assert report["safety_recall"] >= 0.97
