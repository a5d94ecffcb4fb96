"""How a closed request's outcome is read (the read model's `requests.outcome`, the
dashboard, the month report, the worker's `dispatch_requests_closed_total`). Pure: no
database, so the metrics import it too.

A request still held by a helper when its lifetime ends is closed by the core as resolved
by the system (dispatcher/core/ladder.py `end_of_lifetime`), though nobody said it was done
(the helper may never have come). Its status stays the core's "resolved" (what
GET /v1/requests/{id} answered before); its outcome is "ended", counted apart from the
requests resolved (到时结束; migration 0405 set it on the rows recorded before)."""

from __future__ import annotations

from schemas.vocab import Party

ENDED = "ended"


def closing_outcome(status: str, by: str | None) -> str:
    """The outcome of a closing of this status (resolved, cancelled, referred, expired) by
    `by` (the event's party, if it has one): the status, but "ended" for a resolution by the
    system."""
    return ENDED if status == "resolved" and by == Party.SYSTEM.value else status
