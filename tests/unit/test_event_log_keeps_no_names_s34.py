"""The event log (kept for reports without limit) keeps no name and no closing note, not
even sealed: `dispatcher/record/projection_rows.py` `log_body`; migration 0399 for older
rows (tests/integration/test_event_log_forgets_0399.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dispatcher.record.projection_rows import log_body
from dispatcher.sealing import KeyRing, seal_closing
from schemas.commands import CancelRequest
from schemas.events import Event, EventBody, HelperAssigned, RequestCancelled, RequestExpired
from schemas.places import PlacePath
from schemas.requests import RequesterContact
from schemas.sealed import Sealed
from schemas.vocab import Party

RING = KeyRing("contact-key-" + "k" * 32, [], "helper-id-key-" + "i" * 32)
BOX = Sealed(kid="k1", box="c2VhbGVk")


def event(body: EventBody) -> Event:
    return Event(
        event_id="e1",
        community_id="c",
        request_id="r-1",
        occurred_at=datetime(2026, 12, 6, tzinfo=UTC),
        caused_by="cmd",
        body=body,
    )


def logged(body: EventBody, bodies: dict[str, str] | None = None) -> dict[str, object]:
    stored: dict[str, object] = json.loads(log_body(event(body), bodies or {}))
    return stored


def test_a_closing_note_is_not_logged_even_when_the_writer_made_the_body() -> None:
    cancel = seal_closing(RING, CancelRequest(request_id="r-1", by=Party.REQUESTER, reason="x"))
    assert cancel.sealed_note is not None
    body = RequestCancelled(by=Party.REQUESTER, sealed_note=cancel.sealed_note)
    written = {"e1": body.model_dump_json()}  # the writer's JSON, box included
    assert "sealed_note" in written["e1"]
    assert logged(body, written) == {"type": "request_cancelled", "by": "requester", "reason": ""}


def test_an_assignment_logs_neither_the_requester_nor_the_helpers_name() -> None:
    body = HelperAssigned(
        offer_id="o1",
        helper_id="h1",
        slot=0,
        skills=(),
        remote=False,
        contact=RequesterContact(name="王女士", phone="13912345678"),
        place=PlacePath(community_id="c", building_id="b3"),
        text="肚子疼",
        group_name="林阿姨",
        sealed_group_name=BOX,
        sealed=BOX,
    )
    stored = logged(body)
    assert stored["helper_id"] == "h1" and stored["slot"] == 0
    leaked = {"contact", "place", "text", "sealed", "group_name", "sealed_group_name"} & set(stored)
    assert leaked == set()


def test_other_events_are_logged_as_the_writer_made_them() -> None:
    body = RequestExpired(offers_sent=3)
    assert log_body(event(body), {"e1": '{"made":"by the writer"}'}) == '{"made":"by the writer"}'
