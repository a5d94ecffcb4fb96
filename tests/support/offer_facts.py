"""What an offer's page says of its request before anyone accepts (`offer_pages.
_summary_facts`: every helper offered, and a chat app's link preview, sees it), for a
request stored with `label` (its `building_label`)."""

from __future__ import annotations

from dispatcher.api.offer_pages import _summary_facts
from dispatcher.record.read.requests import RequestSummary


def offer_page_facts(label: str, urgency: str = "urgent") -> str:
    return _summary_facts(
        RequestSummary(
            category="hospital_transport",
            urgency=urgency,
            building_label=label,
            status="open",
            closed_at=None,
            helpers_needed=1,
            helpers_assigned=0,
        )
    )
