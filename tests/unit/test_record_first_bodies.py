"""The record agent stores the body JSON its worker's writer made (`Decoded.bodies`) only for
the copy of an event the log keeps: the first (dispatcher/record/projection.py
`first_bodies`, as `record_events` keeps the first copy of an event sent twice)."""

from __future__ import annotations

from dispatcher.record.projection import first_bodies
from dispatcher.record.projection_rows import log_body
from schemas.event_batch import decode_record, encode_batch_records
from schemas.events import Event, OfferStoodDown, make_event
from tests.unit.test_event_batch import NOW


def stood_down(reason: str) -> Event:
    # The same id twice with other content: a command replayed after a crash decided again.
    return make_event(
        OfferStoodDown(offer_id="o1", helper_id="h1", reason=reason),
        command_id="cmd-1",
        index=0,
        community_id="c",
        request_id="r",
        occurred_at=NOW,
    )


def test_a_later_copys_body_never_goes_with_the_first_copys_event() -> None:
    [(_, raw_first, _)] = encode_batch_records([stood_down("covered")])
    [(_, _, handed)] = encode_batch_records([stood_down("cancelled")])
    first = decode_record(raw_first)  # another worker's record, or one decoded after a restart
    assert first.bodies == {}

    bodies = first_bodies([first, handed])
    kept = first.events[0]
    assert bodies == {}  # the first copy came with no body: the log serialises it
    assert '"covered"' in log_body(kept, bodies)

    # Handed over first: its own body, not the later copy's.
    [(_, _, handed_first)] = encode_batch_records([stood_down("covered")])
    bodies = first_bodies([handed_first, decode_record(raw_first), handed])
    assert bodies == {kept.event_id: handed_first.events[0].body.model_dump_json()}
    assert '"covered"' in log_body(handed_first.events[0], bodies)


def test_every_event_of_a_record_handed_over_keeps_its_own_body() -> None:
    events = [stood_down("covered")]
    [(_, _, handed)] = encode_batch_records(events)
    assert first_bodies([handed]) == {e.event_id: e.body.model_dump_json() for e in events}
