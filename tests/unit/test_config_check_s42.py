"""Session 42: `python -m dispatcher config check` turns `/readyz` into an exit code a
deploy job can fail on. `/readyz` is 200 while bots are stored but not served (one
community's bot never takes every pod out), so without this only a gauge said so."""

from __future__ import annotations

from dispatcher.config.readiness_check import NOT_READY, OK, UNSERVED, verdict

READY = {"ready": True, "checks": {"kafka": "ok", "postgres": "ok", "config": "ok"}}


def test_ready_with_every_bot_served_passes() -> None:
    code, lines = verdict(200, READY)
    assert code == OK and lines == ["ready; every stored bot is served"]


def test_unserved_bots_fail_naming_them() -> None:
    code, lines = verdict(200, {**READY, "unserved_bots": ["fs-open", "fs-late"]})
    assert code == UNSERVED
    assert "fs-open, fs-late" in lines[0] and "encrypt_key" in lines[1]


def test_not_ready_names_the_failing_checks_and_wins_over_unserved() -> None:
    body = {
        "ready": False,
        "checks": {
            "kafka": "unavailable: KafkaConnectionError",
            "postgres": "ok",
            "config": "loading",
        },
        "unserved_bots": ["fs-open"],
    }
    code, lines = verdict(503, body)
    assert code == NOT_READY
    assert lines[0] == "not ready (503): config: loading, kafka: unavailable: KafkaConnectionError"
    assert any("fs-open" in line for line in lines)


def test_an_answer_that_is_not_an_apis_is_not_ready() -> None:
    assert verdict(200, None)[0] == NOT_READY
    assert verdict(200, ["ok"])[0] == NOT_READY
    assert verdict(200, {"ready": True})[0] == OK  # an API without the checks' listing
