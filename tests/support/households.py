"""A community's household cards and quiet hours as staff set them, for the tests of the
card page and of requests held for the night: the households uploaded (each household's card
page), and quiet hours that hold now."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.config_cli import config_cli as cli

STAFF = {"Authorization": "Bearer dev-staff-token"}
CSV = "text/csv; charset=utf-8"


async def upload_households(api: LocalStack, community: str, csv: str) -> dict[str, Any]:
    """POST the households CSV as staff; the answer (its `cards`: household id → card_path)."""
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as c:
        r = await c.post(
            f"/v1/admin/communities/{community}/households",
            content=csv.encode(),
            headers={**STAFF, "content-type": CSV},
        )
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc


def card_paths(doc: dict[str, Any]) -> dict[str, str]:
    return {c["household_id"]: c["card_path"] for c in doc["cards"]}


async def quiet_now(api: LocalStack, client: httpx.AsyncClient, community: str) -> time:
    """Quiet hours from 5 min ago to 2 h from now (their end returned); wait until the API
    applies them (a staff-made normal request, not an errand, in a building of its own,
    b8, is told it is held)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    start, end = (now - timedelta(minutes=5)).time(), (now + timedelta(hours=2)).time()
    cli(api, "set-community", community, "--quiet-hours", f"{start.isoformat()}-{end.isoformat()}")
    for _ in range(120):
        body = builders.request(
            community,
            source=None,
            urgency="normal",
            category="tech_help",  # not an errand: a card's errands may be counted
            skills=[],
            place=builders.place(community, building="b8"),
        )
        r = await client.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        if "安静时段" in r.json()["reply_text"]:
            return end
        await asyncio.sleep(0.5)
    pytest.fail("quiet hours never applied by the API")
