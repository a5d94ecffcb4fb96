"""The notify agent's decoding handed to the record agent (streams/decoded_events.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.event_batch import decode_record, encode_batches
from streams.decoded_events import DecodedEvents
from tests.unit.test_event_batch import decision_events, stood_down


def _raw() -> bytes:
    [(_, value)] = encode_batches(decision_events())
    return value


def test_the_record_agent_takes_what_the_notify_agent_decoded_from_equal_bytes() -> None:
    cache = DecodedEvents()
    raw = _raw()
    mine = cache.decode(raw)
    taken = cache.take(bytes(bytearray(raw)))  # the record agent's consumer: other bytes, equal
    assert taken is mine and cache.hits == 1
    assert taken.events == decode_record(raw).events
    # Taken once: a second read of the same bytes (a redelivery) decodes them again.
    again = cache.take(raw)
    assert again is not mine and again.events == mine.events and cache.misses == 1


def test_bytes_the_notify_agent_did_not_read_are_decoded_by_the_record_agent() -> None:
    cache = DecodedEvents()
    raw = _raw()
    assert cache.take(raw).events == decode_record(raw).events
    assert (cache.hits, cache.misses) == (0, 1)


def test_undecodable_bytes_raise_for_both_and_are_not_kept() -> None:
    cache = DecodedEvents()
    with pytest.raises(ValidationError):
        cache.decode(b'{"not": "an event"}')
    with pytest.raises(ValidationError):
        cache.take(b'{"not": "an event"}')
    assert cache.misses == 1


def test_the_oldest_are_dropped_past_the_bound() -> None:
    cache = DecodedEvents(keep=2)
    raws = [encode_batches(stood_down(1, command=f"cmd-{i}"))[0][1] for i in range(3)]
    kept = [cache.decode(r) for r in raws]
    assert cache.take(raws[0]) is not kept[0]  # dropped: decoded again, equal
    assert cache.take(raws[1]) is kept[1] and cache.take(raws[2]) is kept[2]
    assert (cache.hits, cache.misses) == (2, 1)
