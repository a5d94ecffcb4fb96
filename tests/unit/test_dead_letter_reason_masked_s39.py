"""Every dead letter's reason has phones masked, not only those `describe` wrote: an
undecodable event's id and type are quoted from the topic as written (`Undecodable.describe`),
and one written as a phone ("１３８００１３８０００" in any digit form) reached the letter as is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

from schemas.event_batch import EVENT_BATCH_VERSION, decode_record
from streams.dead_letter import dead_letter_for

PHONES = ("13800138000", "１３８００１３８０００", "①③⑧⓪⓪①③⑧⓪⓪⓪", "138 0013 8000")


def test_an_undecodable_events_quoted_id_and_type_are_masked_in_its_letter() -> None:
    for phone in PHONES:
        batch = {
            "batch": EVENT_BATCH_VERSION,
            "events": [{"event_id": f"tel {phone}", "body": {"type": f"call {phone}"}}],
        }
        bad = decode_record(json.dumps(batch, ensure_ascii=False)).bad
        reason = f"undecodable event: {bad[0].describe()}"  # as record_agent.py words it
        assert phone in reason  # the quoted fields, as written
        record = SimpleNamespace(topic="events", partition=0, offset=7, key=b"k", value=b"{}")
        letter = dead_letter_for(record, reason, "record", datetime(2024, 3, 5, tzinfo=UTC))
        assert phone not in letter.reason
        assert "[phone]" in letter.reason
        assert letter.reason.startswith("undecodable event: event 0 tel ")
