"""One in-person errand at a time (dispatcher/core/presence.py), through the real API, Kafka,
worker and read model: a helper who accepted one critical request and then presses accept on
an older offer of a second is told kindly that they are helping another neighbour, never
shown the second requester's phone, and the slot stays open: another neighbour takes it."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.started import with_helpers
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-s40-hoard"
HELPERS = ("ho1", "ho2", "ho3")


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_helpers(stack, COMMUNITY, HELPERS)


async def _request(
    client: httpx.AsyncClient, db: asyncpg.Connection, phone: str
) -> tuple[str, dict[str, str]]:
    """A critical request whose first wave reaches all three; (its id, offer id by helper)."""
    contact = {"name": "王先生", "phone": phone, "address": "3号楼2单元501"}
    body = builders.request(COMMUNITY, source=None, contact=contact)
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = str(r.json()["request_id"])

    async def offers() -> dict[str, str] | None:
        rows = await db.fetch("SELECT helper_id, offer_id FROM offers WHERE request_id = $1", rid)
        found = {row["helper_id"]: row["offer_id"] for row in rows}
        return found if len(found) == len(HELPERS) else None

    return rid, await eventually(offers, what="three offers")


async def test_an_older_offer_accepted_while_helping_another_is_refused_kindly(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first_phone, second_phone = "13911110001", "13911110002"
    r1, offers1 = await _request(client, db, first_phone)
    r2, offers2 = await _request(client, db, second_phone)  # both offered before any accept

    took = await press(client, offer_path(api, COMMUNITY, r1, offers1["ho1"], "ho1"))
    assert took.status_code == 200 and first_phone in took.text, took.text

    refused = await press(client, offer_path(api, COMMUNITY, r2, offers2["ho1"], "ho1"))
    assert "您正在帮助另一位邻居" in refused.text, refused.text
    assert "去不了了" in refused.text and second_phone not in refused.text
    reason = await db.fetchval(
        "SELECT body->>'reason' FROM event_log WHERE request_id = $1"
        " AND type = 'command_rejected' AND body->>'helper_id' = 'ho1'",
        r2,
    )
    assert reason == "helping_elsewhere"
    assigned = await db.fetchval(
        "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'helper_assigned'", r2
    )
    assert assigned == 0

    # The slot stayed open: another neighbour offered it takes it, with the contact.
    other = await press(client, offer_path(api, COMMUNITY, r2, offers2["ho2"], "ho2"))
    assert other.status_code == 200 and second_phone in other.text, other.text
