"""Event batches: the events of one decision travel in one record on the `events` topic.

A decision emits ~20 events (a RequestOpened, an OfferSent per offered helper, ...). As one
Kafka record each, every reader of the topic paid its per-record cost (Faust's consumer and
agent machinery, a socket write, a commit) 20 times per command (issue 18). Now the dispatch
agent sends them as one record, `{"batch":1,"events":[<event>,...]}`, keyed by community as
before. Each event inside is exactly what a single record held (same JSON, same id), so the
deduplication by event id and the replay guarantees (README "Reliability") are unchanged.

Readers call `decode_record`: a batch gives its events in order, a single-event record from
before the batches gives a list of one. A batch whose frame is sound but one of whose events
is not (an event type this release does not know yet, during a rolling upgrade) gives the
others and names the bad one (`Undecodable`: its position, id and type, and its own bytes for
the dead letter), so one event never costs a reader the rest of the decision. A record that
is no batch and no event raises `ValidationError` (the caller dead-letters the record).
`decode_events` is the strict form (any bad event raises); `peek_events` is the unvalidated
view for observers that only look (benches, tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from schemas._base import Wire
from schemas.events import Event

EVENT_BATCH_VERSION: Literal[1] = 1
# A wave to a whole community is a few hundred offers: split so that a record stays far
# below Kafka's default 1 MB limit (message.max.bytes, the producer's max_request_size).
MAX_EVENTS = 256
MAX_BYTES = 500_000

_HEAD = b'{"batch":1,"events":['
_TAIL = b"]}"


class EventBatch(Wire):
    """One record's events, in the order the core emitted them; `batch` is the version."""

    batch: Literal[1] = EVENT_BATCH_VERSION
    events: tuple[Event, ...] = Field(min_length=1)


def _kind(value: Any) -> str | None:
    # A single event never has a "batch" field (Event forbids unknown fields).
    if isinstance(value, dict):
        return "batch" if "batch" in value else "event"
    return None


_RECORD: TypeAdapter[EventBatch | Event] = TypeAdapter(
    Annotated[
        Annotated[EventBatch, Tag("batch")] | Annotated[Event, Tag("event")],
        Discriminator(_kind),
    ],
    config=ConfigDict(hide_input_in_errors=True),  # an error's text never repeats the payload
)


_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True)
class Undecodable:
    """One event of a batch that does not validate: where it is and what it claims to be
    (`event_id`/`type` as written, when they are short strings: never other content)."""

    index: int
    event_id: str | None
    type: str | None
    reason: str
    raw: bytes  # this event's own JSON: the dead letter's payload

    def describe(self) -> str:
        what = f"event {self.index}" + (f" {self.event_id}" if self.event_id else "")
        return what + (f" ({self.type})" if self.type else "") + f": {self.reason}"


@dataclass
class Decoded:
    events: list[Event]
    bad: list[Undecodable] = field(default_factory=list)
    # Each event's body as JSON (`event.body.model_dump_json()`), by event id, when the writer
    # made them (`encode_batch_records`): the record agent's log stores them as they are,
    # not serialised again. Empty for a record decoded from its bytes.
    bodies: dict[str, str] = field(default_factory=dict, repr=False)  # as `Event`: no content


def decode_events(raw: bytes | str) -> list[Event]:
    """The events of one record: a batch, or a single event from before the batches; any
    event that does not validate raises (see `decode_record` for the forgiving form)."""
    record = _RECORD.validate_json(raw)
    return list(record.events) if isinstance(record, EventBatch) else [record]


def decode_record(raw: bytes | str) -> Decoded:
    """As `decode_events`, but a sound batch with bad events gives its good ones and names
    the bad ones. Raises `ValidationError`/`ValueError` only when the record itself is not a
    batch or an event. The common case costs one validation, as before."""
    try:
        return Decoded(decode_events(raw))
    except ValidationError:
        items = _batch_items(raw)
        if items is None:
            raise
    good: list[Event] = []
    bad: list[Undecodable] = []
    for index, item in enumerate(items):
        one = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            # Validated from JSON, as the whole batch was: the same rules, event by event.
            good.append(_EVENT.validate_json(one))
        except ValidationError as exc:
            bad.append(_undecodable(index, item, one, exc))
    return Decoded(good, bad)


def _batch_items(raw: bytes | str) -> list[Any] | None:
    """The events of a record whose batch frame is sound, else None."""
    try:
        doc = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        # Not JSON: a tombstone (None), nesting deeper than the parser's stack, bad bytes.
        # The caller re-raises the validation error, which names the record as undecodable.
        return None
    if not (isinstance(doc, dict) and set(doc) == {"batch", "events"}):
        return None
    items = doc["events"]
    if doc["batch"] != EVENT_BATCH_VERSION or not isinstance(items, list) or not items:
        return None
    return items


def _undecodable(index: int, item: Any, one: bytes, exc: ValidationError) -> Undecodable:
    def short_str(value: Any) -> str | None:
        return value if isinstance(value, str) and len(value) <= 80 else None

    body = item.get("body") if isinstance(item, dict) else None
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"][:3])
    return Undecodable(
        index=index,
        event_id=short_str(item.get("event_id")) if isinstance(item, dict) else None,
        type=short_str(body.get("type")) if isinstance(body, dict) else None,
        reason=f"{exc.error_count()} error(s), first at {where or 'top'}: {first['type']}",
        raw=one,
    )


def peek_events(raw: bytes | str) -> list[dict[str, Any]]:
    """The events of one record as plain JSON objects, not validated: for observers."""
    doc = json.loads(raw)
    events: list[dict[str, Any]] = doc["events"] if "batch" in doc else [doc]
    return events


def encode_batches(events: Sequence[Event]) -> list[tuple[bytes, bytes]]:
    """(key, value) records for `events`: one per community (a decision has one), in the
    order given, split above MAX_EVENTS events or MAX_BYTES. The value is exactly
    `EventBatch(events=...).model_dump_json()`, assembled from each event's own JSON."""
    return [(key, value) for key, value, _ in encode_batch_records(events)]


def encode_batch_records(events: Sequence[Event]) -> list[tuple[bytes, bytes, Decoded]]:
    """`encode_batches`, each record with the events it holds and their bodies' JSON (the
    writer hands them to this process's readers: streams/decoded_events.py)."""
    by_community: dict[str, list[tuple[bytes, Event, str]]] = {}
    for e in events:
        one, body = _event_json(e)
        by_community.setdefault(e.community_id, []).append((one, e, body))
    return [
        (
            community.encode(),
            _HEAD + b",".join(one for one, _, _ in chunk) + _TAIL,
            Decoded([e for _, e, _ in chunk], bodies={e.event_id: b for _, e, b in chunk}),
        )
        for community, encoded in by_community.items()
        for chunk in _chunks(encoded)
    ]


_NO_BODY = {"body"}
# `_event_json` writes the body last, where pydantic writes it (fields in declared order).
assert list(Event.model_fields)[-1] == "body"


def _event_json(e: Event) -> tuple[bytes, str]:
    """`e.model_dump_json()`, byte for byte (tests/unit/test_decoded_events.py), and its body's
    JSON, which the record agent's log then stores instead of serialising the body again
    (~1.3 % of the worker's CPU under `bench e2e`, issue 18): the envelope without the
    body, then the body."""
    body = e.body.model_dump_json()
    head = e.model_dump_json(exclude=_NO_BODY)
    return f'{head[:-1]},"body":{body}}}'.encode(), body


def encode_singles(events: Sequence[Event]) -> list[tuple[bytes, bytes]]:
    """(key, value) records for `events`, one per event: the format before the batches, which
    every reader still decodes (for a rolling upgrade from a release without batches)."""
    return [(key, value) for key, value, _ in encode_single_records(events)]


def encode_single_records(events: Sequence[Event]) -> list[tuple[bytes, bytes, Decoded]]:
    """`encode_singles`, each record with its event and its body's JSON."""
    records = []
    for e in events:
        one, body = _event_json(e)
        records.append((e.community_id.encode(), one, Decoded([e], bodies={e.event_id: body})))
    return records


def _chunks(
    encoded: list[tuple[bytes, Event, str]],
) -> Iterator[list[tuple[bytes, Event, str]]]:
    chunk: list[tuple[bytes, Event, str]] = []
    size = len(_HEAD) + len(_TAIL)
    for item in encoded:
        grown = size + len(item[0]) + (1 if chunk else 0)
        if chunk and (len(chunk) == MAX_EVENTS or grown > MAX_BYTES):
            yield chunk
            chunk, grown = [], len(_HEAD) + len(_TAIL) + len(item[0])
        chunk.append(item)
        size = grown
    if chunk:
        yield chunk
