"""The bench observer's scan of event records (dispatcher/bench/e2e_observe.py) sees what
a full decoding sees: first offers, their times, the events count and deadline lateness."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatcher.bench.e2e_observe import Observations, Observer
from schemas.event_batch import encode_batches, encode_singles
from schemas.events import OfferStoodDown, make_event
from tests.unit.test_event_batch import NOW, decision_events


def _records() -> list[bytes]:
    events = decision_events()
    no_request = make_event(
        OfferStoodDown(offer_id="o9", helper_id="h9", reason="covered"),
        command_id="cmd-late",
        index=0,
        community_id="c",
        request_id=None,
        occurred_at=NOW + timedelta(seconds=3),
    )
    return [v for _, v in encode_batches(events)] + [
        v for _, v in encode_singles([*events[:2], no_request])
    ]


def _observe(read: object, records: list[bytes]) -> Observations:
    obs = Observations()
    obs.note_deadline("cmd-late", due=NOW.timestamp() + 1, now=0.5)
    for i, value in enumerate(records):
        read(value, 1_700_000_000_000 + i, float(i), obs)  # type: ignore[operator]
    return obs


def test_scan_sees_what_the_full_decoding_sees() -> None:
    records = _records()
    scanned = _observe(Observer._event, records)
    decoded = _observe(Observer._event_decoded, records)
    assert scanned.events == decoded.events == len(decision_events()) + 3
    assert scanned.offer_event_at == decoded.offer_event_at != {}
    assert scanned.offer_occurred == decoded.offer_occurred
    # The first offer's record: its Kafka timestamp (epoch ms), as seconds.
    assert scanned.offer_record_created == decoded.offer_record_created
    assert set(scanned.offer_record_created) == set(scanned.offer_event_at)
    first = min(scanned.offer_event_at.values())
    assert min(scanned.offer_record_created.values()) == pytest.approx(1_700_000_000 + first / 1000)
    assert scanned.lateness == decoded.lateness == [(float(len(records) - 1), 2.0)]


def test_a_record_laid_out_otherwise_is_decoded_in_full() -> None:
    [value] = [v for _, v in encode_batches(decision_events())]
    # Same JSON, keys reordered: the scan cannot trust it and falls back.
    reordered = value.replace(b'"v":1,', b"").replace(b'{"event_id"', b'{"v":1,"event_id"', 1)
    reordered = reordered.replace(b'"caused_by":', b'"x":0,"caused_by":', 1)
    obs = Observations()
    Observer._event(reordered, 0, 1.0, obs)
    assert obs.events == len(decision_events())
    assert len(obs.offer_event_at) == 1
