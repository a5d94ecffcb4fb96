"""Each events record decoded once for the notify and record agents (streams/decoded_events.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.event_batch import decode_record, encode_batches
from streams.decoded_events import DecodedEvents
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
