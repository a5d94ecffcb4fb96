"""The words on the figures say what they count (session 43 audit a4).

- `expired` (month report, DispatchCriticalUnanswered): a request accepted, then given back
  by its helper, then out of time counts answered and expired; the words said "nobody
  accepted" / "nobody answering".
- `dispatch_time_to_first_*`: a held request counts from its release, not its opening.
- Grafana's "Answered rate 响应率 (1h)" divided the last hour's first accepts by the last
  hour's openings: not a rate of anything (over 100 % after a quiet night).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from dispatcher.ops import reports
from dispatcher.ops.event_metrics import EventMetrics
from dispatcher.ops.metric_defs import DispatchMetrics
from schemas.commands import WithdrawHelper
from schemas.vocab import Skill
from tests.unit.conftest import World

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _expired_alert_summary() -> str:
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text(encoding="utf-8"))
    [rule] = [
        r for g in rules["groups"] for r in g["rules"] if 'outcome="expired"' in r.get("expr", "")
    ]
    return str(rule["annotations"]["summary"])


def test_accepted_then_withdrawn_then_out_of_time_is_answered_and_expired(world: World) -> None:
    world.helper("h1", skills=[Skill.DRIVING])
    world.submit()
    world.accept("h1")
    world.later(60)
    world.run(WithdrawHelper(request_id="req-1", helper_id="h1"))
    while not world.of_type("request_expired"):
        world.tick()
    registry = CollectorRegistry()
    EventMetrics(DispatchMetrics.create(registry)).observe_all(world.events)
    crit = {"urgency": "critical"}
    answered = {"category": "hospital_transport", **crit}
    assert registry.get_sample_value("dispatch_requests_answered_total", answered) == 1
    closed = {"outcome": "expired", **crit}
    assert registry.get_sample_value("dispatch_requests_closed_total", closed) == 1
    # So "expired" cannot mean nobody accepted (old words): nobody held it at the end.
    doc = " ".join((reports.__doc__ or "").split())
    assert "expired (nobody accepted)" not in doc
    assert "nobody held it at the end" in doc and "withdrew" in doc
    summary = _expired_alert_summary()
    assert "nobody answering" not in summary and "withdrew" in summary, summary


def test_first_offer_and_accept_help_texts_name_the_release() -> None:
    m = DispatchMetrics.create(CollectorRegistry())
    for histogram in (m.time_to_first_offer, m.time_to_first_accept):
        assert "release" in histogram._documentation, histogram._documentation


def test_the_hourly_accepts_per_opening_panel_is_not_called_a_rate() -> None:
    doc = json.loads((DEPLOY / "grafana/dashboards/dispatch.json").read_text(encoding="utf-8"))
    [panel] = [
        p
        for p in doc["panels"]
        if "dispatch_requests_answered_total" in p["targets"][0]["expr"]
        and "dispatch_requests_opened_total" in p["targets"][0]["expr"]
    ]
    assert "rate" not in panel["title"].lower() and "响应率" not in panel["title"], panel["title"]
    assert "100 %" in panel.get("description", ""), panel
