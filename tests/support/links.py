"""Offer links as a phone gets them: the path of a helper's accept (or decline) link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from dispatcher.links import action_links
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def request_with_offers(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    community: str,
    offers_at_least: int,
    **extra: Any,
) -> tuple[str, dict[str, str]]:
    """A new request posted by staff (no message id), once its first wave's offers are
    recorded (at least `offers_at_least`): (request id, helper id -> offer id)."""
    body = builders.request(community, source=None, **extra)
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]

    async def offers() -> dict[str, str] | None:
        rows = await db.fetch("SELECT helper_id, offer_id FROM offers WHERE request_id = $1", rid)
        found = {row["helper_id"]: row["offer_id"] for row in rows}
        return found if len(found) >= offers_at_least else None

    return rid, await eventually(offers, what=f"{offers_at_least} offers")


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
