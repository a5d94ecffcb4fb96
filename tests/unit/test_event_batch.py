"""The events of one decision in one record (schemas/event_batch.py, issue 18): the codec,
its bounds and bad input, and the readers' bookkeeping (a record acknowledged by the notify
agent once each of its events is; an undecodable record dead-lettered by the record agent)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from dispatcher.bench.e2e_observe import Observations, Observer
from dispatcher.redact import describe
from dispatcher.settings import Settings
from schemas import event_batch
from schemas.commands import CancelRequest
from schemas.event_batch import (
    EventBatch,
    decode_events,
    decode_record,
    encode_batches,
    peek_events,
)
from schemas.events import (
    Event,
    OffersSent,
    OffersStoodDown,
    OfferStoodDown,
    make_event,
    one_by_one,
)
from schemas.vocab import Party
from streams.batch_ack import BatchAck
from streams.dead_letter import DeadLetterSink
from streams.notify import NotifyAgent
from streams.record_agent import RecordAgent
from streams.runtime import Stats
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_push_deliveries import ROBOTS, planner, registry, with_channels
from tests.unit.test_worker_notify import FakeClock, FaustEvent, Topic, notifier

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def stood_down(n: int, community: str = "c", command: str = "cmd-1") -> list[Event]:
    return [
        make_event(
            OfferStoodDown(offer_id=f"o{i}", helper_id=f"h{i}", reason="covered"),
            command_id=command,
            index=i,
            community_id=community,
            request_id="r",
            occurred_at=NOW,
        )
        for i in range(n)
    ]


def decision_events() -> list[Event]:
    world = World()
    for i in range(12):
        world.helper(f"driver-{i}", skills=["driving"])
    return list(world.submit().events)


def test_a_decision_is_one_record_keyed_by_community_and_decodes_to_the_same_events() -> None:
    events = decision_events()
    assert len(events) >= 3 and any(e.body.type == "offers_sent" for e in events)
    [(key, value)] = encode_batches(events)
    assert key == COMMUNITY.encode()
    assert decode_events(value) == events
    # The contract's own JSON, and each event exactly as a single record held it.
    assert value == EventBatch(events=tuple(events)).model_dump_json().encode()
    assert peek_events(value) == [json.loads(e.model_dump_json()) for e in events]


def test_with_wave_events_off_each_offer_is_the_single_event_an_older_release_wrote() -> None:
    world = World()
    for i in range(12):
        world.helper(f"driver-{i}", skills=["driving"])
    world.submit()
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    events = list(world.events)  # every decision's, the cancellation's too
    assert {"offers_sent", "offers_stood_down"} <= {e.body.type for e in events}
    singles = one_by_one(events)
    assert not {"offers_sent", "offers_stood_down"} & {e.body.type for e in singles}
    for e in events:
        if isinstance(e.body, OffersSent | OffersStoodDown):
            mine = [s for s in singles if s.event_id.startswith(e.event_id + ":")]
            assert [s.event_id for s in mine] == [f"{e.event_id}:{i}" for i in range(len(mine))]
            assert len(mine) == len(e.body.offers) > 1
    offers = [s for s in singles if s.body.type == "offer_sent"]
    # The fields, in the order, a release before the waves wrote (none but those).
    assert list(json.loads(offers[0].body.model_dump_json())) == [
        "type", "offer_id", "helper_id", "ring", "step", "expires_at", "category", "urgency",
        "building_label", "helpers_needed", "skills", "remote",
    ]  # fmt: skip
    # Each decodes as one record of its own, as the older readers take them.
    assert [Event.model_validate_json(s.model_dump_json()) for s in singles] == singles


def test_a_single_event_record_from_before_the_batches_still_decodes() -> None:
    [event] = stood_down(1)
    old = event.model_dump_json().encode()
    assert decode_events(old) == [event]
    assert peek_events(old) == [json.loads(old)]


def test_a_wave_is_split_above_max_events_in_order() -> None:
    events = stood_down(event_batch.MAX_EVENTS * 2 + 3)
    records = encode_batches(events)
    assert [len(decode_events(v)) for _, v in records] == [256, 256, 3]
    assert [e for _, v in records for e in decode_events(v)] == events
    assert all(len(v) <= event_batch.MAX_BYTES for _, v in records)


def test_a_record_is_split_above_max_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    events = stood_down(10)
    one = len(events[0].model_dump_json())
    monkeypatch.setattr(event_batch, "MAX_BYTES", 3 * one + 40)  # three fit, not four
    records = encode_batches(events)
    assert [len(decode_events(v)) for _, v in records] == [3, 3, 3, 1]
    assert all(len(v) <= event_batch.MAX_BYTES for _, v in records)
    monkeypatch.setattr(event_batch, "MAX_BYTES", 10)  # an event above the bound goes alone
    assert [len(decode_events(v)) for _, v in encode_batches(events)] == [1] * 10


def test_events_of_two_communities_go_to_their_own_keys() -> None:
    a, b = stood_down(2, "a", "cmd-a"), stood_down(3, "b", "cmd-b")
    records = encode_batches([a[0], b[0], a[1], b[1], b[2]])
    assert [(k, decode_events(v)) for k, v in records] == [(b"a", a), (b"b", b)]
    assert encode_batches([]) == []


# Records that are not a batch (nor an event) at all.
NO_BATCH_FRAME = [
    b"not json 13800000000",
    b"[1, 2]",
    b"{}",
    b'{"batch":1,"events":[]}',
    b'{"batch":2,"events":[{}]}',
    b'{"batch":1,"events":{"a":1}}',
    b'{"batch":1,"events":[],"extra":1}',
]


@pytest.mark.parametrize(
    "raw", [*NO_BATCH_FRAME, b'{"batch":1,"events":[{"phone":"13800000000"}]}']
)
def test_bad_records_are_refused_with_a_reason_that_never_repeats_the_input(raw: bytes) -> None:
    with pytest.raises(ValidationError) as info:
        decode_events(raw)
    assert "13800000000" not in str(info.value) and "13800000000" not in describe(info.value)


def test_one_bad_event_refuses_the_whole_record_in_the_strict_form() -> None:
    good = stood_down(2)
    doc = json.loads(encode_batches(good)[0][1])
    doc["events"][1]["body"]["type"] = "launch_rocket"
    with pytest.raises(ValidationError):
        decode_events(json.dumps(doc))


def future_event_among(events: list[Event], at: int) -> tuple[bytes, dict[str, object]]:
    """A batch with an event of a type this release does not know at position `at`, holding
    a phone number (a future event's body may carry anything)."""
    doc = json.loads(encode_batches(events)[0][1])
    future = json.loads(stood_down(1, command="later")[0].model_dump_json())
    future["body"] = {"type": "launch_rocket", "phone": "13800000000"}
    doc["events"].insert(at, future)
    return json.dumps(doc).encode(), future


def test_a_batch_with_one_unknown_event_gives_the_others_and_names_that_one() -> None:
    good = stood_down(2)
    raw, future = future_event_among(good, 1)
    decoded = decode_record(raw)
    assert decoded.events == good  # in order, identical
    [bad] = decoded.bad
    assert (bad.index, bad.event_id, bad.type) == (1, future["event_id"], "launch_rocket")
    assert json.loads(bad.raw) == future  # the dead letter carries that event alone
    text = bad.describe()
    assert text.startswith(f"event 1 {future['event_id']} (launch_rocket): ")
    assert "13800000000" not in text
    assert decode_record(encode_batches(good)[0][1]).bad == []  # the common case


@pytest.mark.parametrize("raw", NO_BATCH_FRAME)
def test_a_record_without_a_sound_batch_frame_is_still_refused_whole(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_record(raw)


# Records no writer of ours makes, but a topic can hold (another tool, an operator, a bug):
# a tombstone, and nesting deeper than Python's JSON parser's stack.
POISON: list[bytes | None] = [None, b"[" * 100_000, b'{"batch":' * 100_000]


@pytest.mark.parametrize("raw", POISON, ids=["tombstone", "deep-array", "deep-frame"])
def test_a_poison_record_is_refused_as_undecodable_not_a_crash(raw: bytes | None) -> None:
    with pytest.raises(ValidationError):
        decode_record(raw)  # type: ignore[arg-type]


def test_an_event_that_is_not_even_an_object_is_named_by_its_position() -> None:
    raw = b'{"batch":1,"events":[7,{"phone":"13800000000"}]}'
    decoded = decode_record(raw)
    assert decoded.events == [] and [b.index for b in decoded.bad] == [0, 1]
    assert all(b.event_id is None and b.type is None for b in decoded.bad)
    assert all("13800000000" not in b.describe() for b in decoded.bad)


def test_a_batch_record_is_acked_once_after_the_last_of_its_events() -> None:
    record = FaustEvent()
    parts = BatchAck.parts(record, 3)
    parts[2].ack()
    parts[0].ack()
    parts[0].ack()  # twice: still waiting for the middle one
    assert record.acks == 0
    parts[1].ack()
    assert record.acks == 1


class FaustRecord(FaustEvent):
    def __init__(self, value: bytes | None) -> None:
        super().__init__()
        self.value = value
        self.message = self
        self.topic, self.partition, self.offset, self.key = "events", 0, 7, b"c"


async def test_the_notify_agent_acks_a_batch_only_when_every_delivery_settled() -> None:
    world = World()
    with_channels(world, "private-a")
    with_channels(world, "private-b")
    events = list(world.submit().events)
    n, _, submitted = notifier(planner(world, registry(*ROBOTS)))
    agent = NotifyAgent(n, DeadLetterSink(Topic(), Stats(), FakeClock()))
    [(_, value)] = encode_batches(events)
    record = FaustRecord(value)
    await agent.handle(record)
    assert len(submitted.deliveries) == 2  # one offer push per helper, from one record
    await n._delivered(submitted.deliveries[0], 0.1)
    assert record.acks == 0  # a crash now replays the whole record: both offers again
    await n._failed(submitted.deliveries[1], "410 Gone")
    assert record.acks == 1


async def test_the_record_agent_dead_letters_an_undecodable_record_with_its_reason() -> None:
    topic, stats = Topic(), Stats()
    agent = RecordAgent(Settings(), stats, DeadLetterSink(topic, stats, FakeClock()))
    await agent.record_batch([FaustRecord(b'{"batch":1,"events":[]}')])  # nothing to record
    [(key, value)] = topic.sent
    letter = json.loads(value)
    assert (key, letter["stage"], letter["offset"]) == ("c", "decode", 7)
    assert letter["reason"].startswith("undecodable event: ")


@pytest.mark.parametrize("raw", POISON, ids=["tombstone", "deep-array", "deep-frame"])
async def test_a_poison_record_is_dead_lettered_and_acked_by_both_agents(raw: bytes | None) -> None:
    topic, stats = Topic(), Stats()
    sink = DeadLetterSink(topic, stats, FakeClock())
    await RecordAgent(Settings(), stats, sink).record_batch([FaustRecord(raw)])
    [(_, value)] = topic.sent  # lettered, and the agent goes on (it used to crash-loop)
    letter = json.loads(value)
    assert (letter["stage"], letter["offset"]) == ("decode", 7)
    assert letter["reason"].startswith("undecodable event: ")
    assert base64.b64decode(letter["payload_b64"]) == (raw or b"")
    record = FaustRecord(raw)
    await NotifyAgent(notifier(planner(World(), registry()))[0], sink).handle(record)
    assert record.acks == 1  # acknowledged, so the partition's commits go on


async def test_the_record_agent_letters_each_unreadable_event_of_a_batch_apart() -> None:
    topic, stats = Topic(), Stats()
    agent = RecordAgent(Settings(), stats, DeadLetterSink(topic, stats, FakeClock()))
    raw = b'{"batch":1,"events":[{"event_id":"e9","body":{"type":"launch_rocket"}},7]}'
    await agent.record_batch([FaustRecord(raw)])  # nothing readable: no database needed
    letters = [json.loads(value) for _, value in topic.sent]
    assert [(x["stage"], x["offset"]) for x in letters] == [("decode", 7), ("decode", 7)]
    assert letters[0]["reason"].startswith("undecodable event: event 0 e9 (launch_rocket): ")
    assert letters[1]["reason"].startswith("undecodable event: event 1: ")
    payloads = [base64.b64decode(x["payload_b64"]) for x in letters]
    assert [json.loads(p) for p in payloads] == [
        {"event_id": "e9", "body": {"type": "launch_rocket"}},
        7,
    ]


async def test_the_notify_agent_pushes_the_readable_events_of_a_batch_and_acks_it() -> None:
    world = World()
    with_channels(world, "private-a")
    events = list(world.submit().events)
    n, _, submitted = notifier(planner(world, registry(*ROBOTS)))
    agent = NotifyAgent(n, DeadLetterSink(Topic(), Stats(), FakeClock()))
    raw, _ = future_event_among(events, 1)
    record = FaustRecord(raw)
    await agent.handle(record)
    [delivery] = submitted.deliveries  # the offer still goes out
    await n._delivered(delivery, 0.1)
    assert record.acks == 1  # the unknown event is not waited for (the record agent letters it)
    only_bad = FaustRecord(b'{"batch":1,"events":[{"event_id":"e9","body":{"type":"x"}}]}')
    await agent.handle(only_bad)
    assert only_bad.acks == 1


def test_the_bench_observer_counts_every_event_of_a_batch_and_its_first_offer() -> None:
    events = decision_events()
    obs = Observations()
    for _, value in encode_batches(events):
        Observer._event(value, 1_700_000_000_123, 5.0, obs)
    request_id = events[0].request_id
    assert obs.events == len(events) and request_id is not None
    assert obs.offer_event_at == {request_id: 5.0}
    assert obs.offer_occurred == {request_id: events[0].occurred_at.timestamp()}
    assert obs.offer_record_created == {request_id: 1_700_000_000.123}
    Observer._event(stood_down(1)[0].model_dump_json().encode(), 0, 6.0, obs)  # the old format
    assert obs.events == len(events) + 1
