"""Each events record decoded once for the notify and record agents (streams/decoded_events.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.event_batch import (
    EventBatch,
    decode_record,
    encode_batch_records,
    encode_batches,
    encode_single_records,
)
from streams.decoded_events import DecodedEvents
from tests.unit.conftest import simulated_week
from tests.unit.exact_models import exact
from tests.unit.test_event_batch import decision_events, stood_down


def _raw() -> bytes:
    [(_, value)] = encode_batches(decision_events())
    return value


def test_the_second_reader_takes_what_the_first_decoded_from_equal_bytes() -> None:
    cache = DecodedEvents()
    raw = _raw()
    first = cache.decode(raw)
    second = cache.decode(bytes(bytearray(raw)))  # the other agent's consumer: equal bytes
    assert second is first and (cache.hits, cache.misses) == (1, 1)
    assert second.events == decode_record(raw).events
    # Taken: a third read of the same bytes (a redelivery) decodes them again.
    third = cache.decode(raw)
    assert third is not first and third.events == first.events
    assert (cache.hits, cache.misses) == (1, 2)


def test_undecodable_bytes_raise_for_every_reader_and_are_not_kept() -> None:
    cache = DecodedEvents()
    for _ in range(2):
        with pytest.raises(ValidationError):
            cache.decode(b'{"not": "an event"}')
    assert (cache.hits, cache.misses) == (0, 2)


def test_the_oldest_are_dropped_past_the_bound() -> None:
    cache = DecodedEvents(keep=2)
    raws = [encode_batches(stood_down(1, command=f"cmd-{i}"))[0][1] for i in range(3)]
    kept = [cache.decode(r) for r in raws]
    again = cache.decode(raws[0])  # dropped: decoded again, equal
    assert again is not kept[0] and again.events == kept[0].events
    assert cache.decode(raws[2]) is kept[2]
    assert (cache.hits, cache.misses) == (1, 4)


def test_handed_over_events_are_taken_by_each_reader_then_gone() -> None:
    cache = DecodedEvents(readers=2)
    [(_, raw, handed)] = encode_batch_records(decision_events())
    events = handed.events
    cache.hand_over(raw, handed)
    first = cache.decode(bytes(bytearray(raw)))  # the notify agent's consumer: equal bytes
    second = cache.decode(raw)  # the record agent's
    assert first is second and first.events == events and first.events[0] is events[0]
    assert (cache.handed, cache.hits, cache.misses) == (1, 2, 0)
    # Both took it: a redelivery decodes the bytes again.
    again = cache.decode(raw)
    assert again is not first and again.events == events and cache.misses == 1


def test_a_record_sent_twice_is_read_twice_more() -> None:
    cache = DecodedEvents(readers=2)
    [(_, raw, handed)] = encode_batch_records(decision_events())
    events = handed.events
    cache.hand_over(raw, handed)
    cache.hand_over(raw, handed)  # a group decided again one command at a time
    assert all(cache.decode(raw).events[0] is events[0] for _ in range(4))
    assert (cache.hits, cache.misses) == (4, 0)


def test_with_one_reader_nothing_decoded_is_kept() -> None:
    cache = DecodedEvents(readers=1)
    raw = _raw()
    assert cache.decode(raw) is not cache.decode(raw)
    assert (cache.hits, cache.misses) == (0, 2)


def test_handed_over_records_left_untaken_are_dropped_past_the_bound() -> None:
    cache = DecodedEvents(keep=2)
    records = [encode_batch_records(stood_down(1, command=f"cmd-{i}"))[0] for i in range(3)]
    for _, raw, handed in records:
        cache.hand_over(raw, handed)
    assert cache.decode(records[0][1]).events == records[0][2].events and cache.misses == 1
    assert cache.decode(records[2][1]).events[0] is records[2][2].events[0] and cache.hits == 1


@pytest.mark.parametrize("encode", [encode_batch_records, encode_single_records])
def test_what_the_writer_hands_over_is_what_validation_of_its_bytes_makes(
    monkeypatch: pytest.MonkeyPatch, encode: Any
) -> None:
    """Every event of the simulator's demo week (every decision the core took, all kinds of
    event it emitted), exactly: the readers cannot tell a handed-over record from a decoded one."""
    kinds: set[str] = set()
    for decision in simulated_week(monkeypatch, seed=3):
        for _, raw, handed in encode(decision.events):
            events = handed.events
            exact(events, decode_record(raw).events)
            kinds.update(e.body.type for e in events)
            # The bytes are pydantic's own JSON of the record (the body written apart, then
            # put last: schemas/event_batch.py `_event_json`), and each body handed over is
            # that body's JSON, which the record agent's log stores as it is.
            batch = encode is encode_batch_records
            whole = EventBatch(events=tuple(events)) if batch else events[0]
            assert raw == whole.model_dump_json().encode()
            assert handed.bodies == {e.event_id: e.body.model_dump_json() for e in events}
    assert len(kinds) >= 10, sorted(kinds)
