"""The worker's table values (`streams.state_store.encode_record`) are written by
pydantic's JSON encoder: decoded, each is the very document `json.dumps(model_dump(mode=
"json"))` made before, and validates back to the record — for every record decided in a
simulated week (non-ASCII names, sealed boxes, times, counters)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dispatcher.core import Decision
from dispatcher.simulate import engine
from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.scenario import Scenario
from dispatcher.simulate.world import local_midnight
from schemas.plans import DEFAULT_PLANS
from schemas.records import HelperState, RequestState
from streams.state_store import decode_record, encode_record


def test_every_record_of_a_simulated_week_decodes_as_before_and_validates_back(monkeypatch):
    decisions: list[Decision] = []
    decide = engine.decide

    def recording(state: Any, command: Any, now: datetime) -> Decision:
        decision = decide(state, command, now)
        decisions.append(decision)
        return decision

    monkeypatch.setattr(engine, "decide", recording)
    Scenario.demo(behaviour=Behaviour(), seed=5, start=local_midnight("2026-09-01"), days=7).run(
        "plans", DEFAULT_PLANS
    )
    records: list[RequestState | HelperState] = [
        r for d in decisions for r in (*d.requests.values(), *d.helpers.values())
    ]
    assert len(records) > 100
    for i, record in enumerate(records):
        partition = i % 7
        before = json.dumps({"p": partition, "r": record.model_dump(mode="json")}).encode()
        p, doc = decode_record(encode_record(partition, record))
        assert (p, doc) == decode_record(before)
        assert type(record).model_validate(doc) == record
