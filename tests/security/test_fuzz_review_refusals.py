"""Attacks from a fuzz review, through the real API and worker (each was a crash):

- a helper link's holder sets quiet hours `00:00+14:00`: answered 200, and every later
  request that considered the helper failed in the worker and was dead-lettered although
  its requester had been told 202. Now the page refuses it, and a command that carries one
  (as the old API wrote it) is dead-lettered alone: dispatch goes on.
- a dashboard session with `X-CSRF-Token: \\xe9` or `Origin: http://[`: a 500.
- a CSV report of a Chinese community id (a 500), or of month `2024-01\\n` (the connection
  dropped: "Invalid HTTP header value").
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from dispatcher.links import helper_link
from dispatcher.testing.stack import LocalStack
from schemas.commands import SetDoNotDisturb, new_command
from schemas.dead_letter import DeadLetter
from schemas.helpers import TimeWindow
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually

STAFF_TOKEN = "dev-staff-token"
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}
COMMUNITY = "fzq"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.bot_communities.add(COMMUNITY)
    stack.start_worker()
    await stack.start_api()
    yield stack


def _old_api_s_command(helper_id: str) -> bytes:
    """A SetDoNotDisturb as the old page queued it: its start with an offset."""
    window = TimeWindow.model_validate({"start": "22:00", "end": "23:59"})
    body = SetDoNotDisturb(helper_id=helper_id, window=window)
    command = new_command(body, community_id=COMMUNITY, issued_at=datetime.now(UTC))
    doc = command.model_dump(mode="json")
    doc["body"]["window"]["start"] = "00:00:00+14:00"
    return json.dumps(doc).encode()


async def test_quiet_hours_with_an_offset_never_reach_the_dispatch(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    helper = "fz-sleepy"
    h = builders.helper(helper, COMMUNITY, ["driving"])
    assert (
        await client.put(f"/v1/admin/helpers/{helper}", json=h, headers=STAFF)
    ).status_code == 202
    link = helper_link(api.settings(), helper_id=helper, community_id=COMMUNITY)
    attack = b"start=00:00%2B14:00&end=23:59"
    r = await client.post(link + "/quiet-hours", content=attack, headers=FORM)
    assert r.status_code == 422, r.text
    # The admin upsert refuses one as well, as invalid input.
    aware = {**h, "do_not_disturb": {"start": "00:00+14:00", "end": "23:59"}}
    r = await client.put(f"/v1/admin/helpers/{helper}", json=aware, headers=STAFF)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "invalid_helper", r.text
    # One the old API queued: the worker dead-letters it, and it alone.
    env = api.env()
    old = _old_api_s_command(helper)
    async with CommandProducer(api.kafka_bootstrap, env["DISPATCH_COMMANDS_TOPIC"]) as producer:
        await producer.send_raw(COMMUNITY, old)
    # The next request (urgent: quiet hours are respected) is offered to the helper.
    body = builders.request(COMMUNITY, urgency="urgent", category="errand")
    r = await BotClient(client).post("/v1/requests", body)
    assert r.status_code == 202, r.text
    request_id = r.json()["request_id"]
    await eventually(
        lambda: db.fetchrow(
            "SELECT 1 FROM offers WHERE request_id = $1 AND helper_id = $2", request_id, helper
        ),
        what="the helper's offer",
    )
    [record] = await read_topic(api.kafka_bootstrap, env["DISPATCH_DEAD_LETTER_TOPIC"], until=1)
    letter = DeadLetter.model_validate_json(record.value)
    assert base64.b64decode(letter.payload_b64) == old
    assert letter.stage == "decode" and "no UTC offset" in letter.reason


async def _session(browser: httpx.AsyncClient) -> str:
    assert (await browser.post("/dashboard/login", data={"token": STAFF_TOKEN})).status_code == 303
    csrf = (await browser.get("/ops/v1/session")).json()["csrf"]
    assert isinstance(csrf, str) and csrf
    return csrf


async def test_a_malformed_csrf_token_or_origin_is_refused_as_csrf(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as browser:
        csrf = await _session(browser)
        url = "/ops/v1/requests/fz-none/claim"
        for headers in (
            [(b"x-csrf-token", b"\xe9")],
            [(b"x-csrf-token", csrf.encode()), (b"origin", b"http://[")],
        ):
            r = await browser.post(url, json={}, headers=headers)
            assert r.status_code == 403, r.text
            assert r.json()["detail"]["reason"] == "csrf"
    count = "SELECT count(*) FROM staff_actions WHERE request_id = 'fz-none'"
    assert await db.fetchval(count) == 0


async def test_a_report_s_file_name_is_a_safe_header(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # A community the service knows (a district-wide token's unknown one is a 404).
    await db.execute(
        "INSERT INTO helpers (helper_id, community_id, display_name, profile, updated_at)"
        " VALUES ('fz-zhong', '中', '', '{}'::jsonb, now()) ON CONFLICT DO NOTHING"
    )
    r = await client.get("/ops/v1/reports/%E4%B8%AD/2024-01?format=csv", headers=STAFF)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == (
        'attachment; filename="report-_-2024-01-days.csv"; '
        "filename*=UTF-8''report-%E4%B8%AD-2024-01-days.csv"
    )
    assert r.text.startswith("\ufeffcommunity_id,")  # a BOM first: Excel reads UTF-8
    # A final newline in the month: a 422, not a header uvicorn refuses mid-answer.
    r = await client.get(f"/ops/v1/reports/{COMMUNITY}/2024-01%0A?format=csv", headers=STAFF)
    assert r.status_code == 422, r.text
