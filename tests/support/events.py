"""One event around a body, for tests of what readers (group texts, pushes) make of it."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.events import Event, EventBody


def event_of(body: EventBody, request_id: str = "req-1", event_id: str = "e1") -> Event:
    """`body` as an event of community "c" for `request_id`, occurring now."""
    return Event(
        event_id=event_id,
        community_id="c",
        request_id=request_id,
        occurred_at=datetime.now(UTC),
        caused_by="cmd",
        body=body,
    )
