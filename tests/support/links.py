"""Offer links as a phone gets them: the path of a helper's accept (or decline) link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from dispatcher.links import action_links
from dispatcher.testing.stack import LocalStack


def offer_path(
    stack: LocalStack, community: str, rid: str, offer_id: str, helper: str, action: str = "accept"
) -> str:
    url = action_links(
        # The signing secret is all a link needs; a module's push endpoints (JSON in the
        # stack's environment) are not parsed here.
        stack.settings(push_endpoints=[]),
        request_id=rid,
        offer_id=offer_id,
        helper_id=helper,
        community_id=community,
        expires_at=datetime.now(UTC) + timedelta(minutes=10),
    )[action]
    return httpx.URL(url).raw_path.decode()
