"""The worker's table values (`streams.state_store.encode_record`) are written by
pydantic's JSON encoder: decoded, each is the very document `json.dumps(model_dump(mode=
"json"))` made before, and validates back to the record — for every record decided in a
simulated week (non-ASCII names, sealed boxes, times, counters)."""

from __future__ import annotations

import json

from schemas.records import HelperState, RequestState
from streams import state_store
from streams.state_store import decode_record, encode_record, encode_request
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


def test_a_request_is_written_byte_for_byte_as_pydantic_writes_it(monkeypatch):
    """`encode_request` splices the plan's JSON, made once per plan object: the bytes are
    `model_dump_json()`'s for every request of a simulated week, held ones and closed ones."""
    decisions = simulated_week(monkeypatch, seed=7)
    requests = [r for d in decisions for r in d.requests.values()]
    assert len(requests) > 100
    for request in requests:
        assert encode_request(request) == request.model_dump_json().encode()


def test_a_plan_is_read_from_the_cache_only_for_that_very_object(monkeypatch):
    decisions = simulated_week(monkeypatch, seed=7)
    request = next(r for d in decisions for r in d.requests.values())
    encode_request(request)
    # Another plan object (as a rebuild makes), different in content: its own JSON.
    other = request.plan.model_copy(update={"offer_ttl_s": request.plan.offer_ttl_s + 1})
    changed = request.model_copy(update={"plan": other})
    assert encode_request(changed) == changed.model_dump_json().encode()
    assert encode_request(request) == request.model_dump_json().encode()
    # A plan whose id a collected one had is not mistaken for it.
    state_store._PLAN_JSON[id(other)] = (request.plan, b'{"stale":true}')
    assert encode_request(changed) == changed.model_dump_json().encode()
