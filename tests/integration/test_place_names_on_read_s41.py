"""Session 41, on the real stack (Kafka, PostgreSQL, the API and a worker): a bot stored
with a floor after its group's building name (written before the checks of sessions 39/40:
here straight to the `config` topic) labelled every request raised in its group with it
("图强小区 综合楼五楼") until an edit cut the name. Now the API's view cuts it where read,
as an edit would: the request's stored label, which every offer, page and group text
reads, is "图强小区 综合楼" (tests/unit/test_place_names_on_read_s41.py has the detail).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.api.webhook_signature import bound_payload, signed_headers
from dispatcher.config.follower import ConfigWriter
from dispatcher.testing.stack import LocalStack
from schemas.config import ConfigKind
from tests.support.config_records import old_record
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-s41-names"
BOT = "s41-names-bot"
KEY = secrets.token_bytes(32)
STORED_NAME = "综合楼五楼"  # a floor after the building's name


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    yield stack


def _bot() -> dict[str, Any]:
    group = {
        "community_id": COMMUNITY,
        "grid_id": "g1",
        "compound_id": "tq",
        "compound_name": "图强小区",
        "building_id": "b7",
        "building_name": STORED_NAME,
    }
    return {
        "bot_id": BOT,
        "secrets": ["whsec_" + base64.b64encode(KEY).decode()],
        "communities": [COMMUNITY],
        "groups": {"grp": group},
    }


async def test_a_stored_floor_in_a_groups_building_name_labels_no_request(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    writer = ConfigWriter(api.settings())
    try:  # as the API wrote it before the place checks
        await writer.write(old_record(ConfigKind.BOT, BOT, _bot(), communities=(COMMUNITY,)))
    finally:
        await writer.close()

    async def stored() -> dict[str, Any] | None:
        r = await client.get(f"/v1/admin/config/communities/{COMMUNITY}", headers=STAFF)
        bots = [b for b in r.json()["bots"] if b["bot_id"] == BOT]
        return bots[0]["groups"]["grp"] if bots else None

    group = await eventually(stored, what="the stored bot in the API's view")
    assert group["building_name"] == STORED_NAME  # the store keeps it: staff see what is there

    message = {
        "group_id": "grp",
        "message_id": "s41-m1",
        "sender": {"id": "wx-s41", "name": "王女士"},
        "text": "有老人摔倒了，起不来，谁能帮忙送医院？",
    }
    body = json.dumps(message, ensure_ascii=False).encode()
    headers = {
        "content-type": "application/json",
        "x-bot-id": BOT,
        **signed_headers([KEY], bound_payload("POST", "/v1/messages", body)),
    }
    r = await client.post("/v1/messages", content=body, headers=headers)
    assert r.status_code == 202, r.text
    request_id = r.json()["request_id"]
    assert request_id

    async def label() -> str | None:
        found = await db.fetchval(
            "SELECT building_label FROM requests WHERE request_id = $1", request_id
        )
        return None if found is None else str(found)

    # Was "图强小区 综合楼五楼": the floor in every offer and group text about it.
    assert await eventually(label, what="the request's read model row") == "图强小区 综合楼"
    opened = await db.fetchval(
        "SELECT body::text FROM event_log WHERE request_id = $1 AND type = 'request_opened'",
        request_id,
    )
    assert opened is not None and "五楼" not in opened
