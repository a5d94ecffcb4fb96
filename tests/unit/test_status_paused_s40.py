"""`GET /v1/requests/{id}` tells a ladder paused for quiet hours (`paused_until`, the
community's `paused_local`), as it tells a hold (`held_until`); session 40. It said
"open" and nothing more. Shown only while the pause is ahead (`pause_ahead`, read against
the database's clock) and the request open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dispatcher.api.requests import _status_out

UNTIL = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)


def _row(**extra: Any) -> dict[str, Any]:
    return {
        "request_id": "r-1", "community_id": "c1", "category": "errand", "urgency": "normal",
        "status": "open", "outcome": None, "ring": "building", "step": 2, "helpers_needed": 1,
        "helpers_assigned": 0, "offers_sent": 2, "opened_at": datetime(2026, 12, 7, tzinfo=UTC),
        "first_offer_at": None, "first_accept_at": None, "closed_at": None,
        "claimed_by": None, "claimed_at": None, "referred_to": None,
        "referred_department": None, "held_until": None,
        "paused_until": UNTIL, "paused_local": "07:00", "pause_ahead": True,
        **extra,
    }  # fmt: skip


def test_an_open_request_paused_for_quiet_hours_says_until_when() -> None:
    out = _status_out(_row())
    assert (out.status, out.paused_until, out.paused_local) == ("open", UNTIL.isoformat(), "07:00")


def test_a_pause_that_ended_or_a_closed_request_says_nothing_of_it() -> None:
    for row in (_row(pause_ahead=False), _row(status="resolved", closed_at=UNTIL)):
        out = _status_out(row)
        assert (out.paused_until, out.paused_local) == (None, None), row
