"""The worker's table values (`streams.state_store.encode_record`) are written by
pydantic's JSON encoder: decoded, each is the very document `json.dumps(model_dump(mode=
"json"))` made before, and validates back to the record — for every record decided in a
simulated week (non-ASCII names, sealed boxes, times, counters)."""

from __future__ import annotations

import json

from schemas.records import HelperState, RequestState
from streams.state_store import decode_record, encode_record
from tests.unit.conftest import simulated_week


def test_every_record_of_a_simulated_week_decodes_as_before_and_validates_back(monkeypatch):
    decisions = simulated_week(monkeypatch, seed=5)
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
