"""Session 41, on the real API, Kafka, worker and read model: a critical request a bot sends
as `other` with plain words ("3栋电梯这边需要帮忙", no red flag for the classifier's floor) is
life-threatening: its 202 tells the requester to call 120 and names 120, the core advises
120, and the whistle (nobody to offer: at once) carries 120 for the group's text. Before,
none of them did, and only the referral, minutes later, said 120
(`tests/unit/test_whistle_number_agrees_s41.py` has every category and urgency)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.started import with_helpers
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-s41-other"  # nobody on its roster: the ladder climbs to the whistle at once


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_helpers(stack, COMMUNITY, ())


async def test_a_critical_other_request_is_told_120_at_intake_and_at_the_whistle(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = builders.request(
        COMMUNITY, source=None, category="other", skills=[], text="3栋电梯这边需要帮忙"
    )
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["advise_emergency_call"] is True and out["emergency_number"] == "120"
    assert "拨打120" in out["reply_text"]
    rid = str(out["request_id"])

    async def told(kind: str, field: str) -> str | None:
        found: str | None = await db.fetchval(
            f"SELECT body->>'{field}' FROM event_log WHERE request_id = $1 AND type = $2",
            rid,
            kind,
        )
        return found

    assert await eventually(lambda: told("emergency_call_advised", "number")) == "120"
    whistle = await eventually(lambda: told("whistle_blown", "emergency_number"), timeout=60)
    assert whistle == "120"
