"""A merged report's own id (`report_id`) on every route that takes a report, on the real
API, worker, Kafka and PostgreSQL (session 42, after 0a676a3 of session 41).

Three gaps that change left: a chat message (`POST /v1/messages`) merged into an earlier
request was answered without its own id, so its bot could only cancel the earlier request
(the first reporter's); `GET /v1/requests/{report_id}` of a merged report was 404
`unknown_request`, though the report was taken in; and a report merged by an API of the
previous release (its `api_repeat_reports.bot_id` NULL) could be withdrawn by any bot of
the community.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.api.command_queue import MERGE_WINDOW_S, request_id_for
from dispatcher.testing.stack import LocalStack
from tests.integration.test_merge_refusals import chat
from tests.integration.test_request_id_taken_s41 import recorded
from tests.support.bot import BOT_ID, BotClient
from tests.support.group_bot import use_group_bot
from tests.support.staff import bearer, write_staff_file
from tests.support.waiting import eventually

C, ELSEWHERE = "s42-merged", "s42-elsewhere"
COMPOUND = {"community_id": C, "grid_id": "g1", "compound_id": "c1"}
NEIGHBOUR = "s42-neighbour-bot"  # another bot of the same community (another group's)
OUTSIDER = "s42-outsider-bot"  # a bot of another community
CLOSER = "s42-closer-bot"  # a bot of the community allowed to close others' requests
LI = secrets.token_urlsafe(32)  # staff of C
WU = secrets.token_urlsafe(32)  # staff of ELSEWHERE


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    use_group_bot(stack, "s42-merged", C, {"grid-1": COMPOUND, "grid-2": COMPOUND})
    path = stack.root / "s42-merged-bots.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    mine = doc["bots"][0]  # the test bot; the others sign with its secret
    for bot_id, community, closes in (
        (NEIGHBOUR, C, False),
        (OUTSIDER, ELSEWHERE, False),
        (CLOSER, C, True),
    ):
        doc["bots"].append(
            {
                "bot_id": bot_id,
                "secrets": mine["secrets"],
                "communities": [community],
                "may_close_others": closes,
            }
        )
    path.write_text(json.dumps(doc), encoding="utf-8")
    write_staff_file(stack, {"li": (LI, [C]), "wu": (WU, [ELSEWHERE])})
    stack.start_worker()
    await stack.start_api()
    yield stack


def fall(flat: str) -> str:
    return f"3号楼{flat}，我老伴摔倒了起不来，快来人帮忙"


def fall_again(flat: str) -> str:
    return f"3号楼{flat}有老人摔倒了起不来，快来人"


def mid() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def first_report(client: httpx.AsyncClient, db: asyncpg.Connection, flat: str) -> str:
    """A fall reported in grid-1, recorded by the worker: its request id."""
    first = await chat(client, fall(flat), mid(), "grid-1")
    rid: str = first["request_id"]
    assert first["merged"] is False, first
    await recorded(db, rid)
    return rid


async def merged_report(
    client: httpx.AsyncClient, rid: str, flat: str
) -> tuple[str, dict[str, Any]]:
    """The same fall reported again in grid-2, merged into `rid`: its own id (derived from
    its message, as the API derives it) and the answer."""
    message = mid()
    second = await chat(client, fall_again(flat), message, "grid-2")
    assert second["merged"] is True and second["request_id"] == rid, second
    return request_id_for(BOT_ID, "grid-2", message), second


async def close(bot_id: str, client: httpx.AsyncClient, rid: str, how: str) -> httpx.Response:
    body = {"request_id": rid, "reason": "不用了"} if how == "cancel" else {"request_id": rid}
    return await BotClient(client, bot_id).post(f"/v1/requests/{rid}/{how}", body)


def refused(answer: httpx.Response, status: int, reason: str) -> bool:
    return answer.status_code == status and answer.json()["detail"]["reason"] == reason


async def still_open(db: asyncpg.Connection, rid: str) -> None:
    await asyncio.sleep(2)  # a cancel sent would be recorded well within this
    assert (await recorded(db, rid))["status"] == "open"


async def test_a_merged_messages_own_id_withdraws_that_report_only(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = await chat(client, fall("502"), mid(), "grid-1")
    rid = first["request_id"]
    own, second = await merged_report(client, rid, "502")
    # Each answer carries the report's own id (absent before: KeyError on the old API).
    assert first["report_id"] == rid and second["report_id"] == own != rid
    await recorded(db, rid)

    # Another bot of the community may not withdraw it; the bot that sent it may.
    for how in ("cancel", "resolve"):
        assert refused(await close(NEIGHBOUR, client, own, how), 403, "not_your_request")
        w = await close(BOT_ID, client, own, how)
        assert w.status_code == 202, w.text
        assert w.json()["withdrawn"] is True and w.json()["command_id"] is None
    await still_open(db, rid)

    # The first reporter's own id still ends their request.
    c = await close(BOT_ID, client, rid, "cancel")
    assert c.status_code == 202 and c.json()["withdrawn"] is False, c.text

    async def cancelled() -> bool:
        return (await recorded(db, rid))["status"] == "cancelled"

    await eventually(cancelled, timeout=30, what="the first reporter's cancel recorded")


async def test_a_merged_reports_own_id_answers_its_requests_status(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await first_report(client, db, "601")
    own, _ = await merged_report(client, rid, "601")

    path = f"/v1/requests/{own}"
    for answer in (await BotClient(client).get(path), await client.get(path, headers=bearer(LI))):
        # Was 404 unknown_request: the report was taken in, merged into `rid`.
        assert answer.status_code == 200, answer.text
        out = answer.json()
        assert (out["request_id"], out["report_id"], out["merged"]) == (rid, own, True), out
        assert out["status"] == "open" and out["community_id"] == C
    # Seen as any request of the community is: by its bots and staff, by no one else's.
    assert (await BotClient(client, NEIGHBOUR).get(path)).status_code == 200
    outsider = await BotClient(client, OUTSIDER).get(path)
    assert refused(outsider, 403, "wrong_community") and rid not in outsider.text
    staff = await client.get(path, headers=bearer(WU))
    assert refused(staff, 403, "wrong_community") and rid not in staff.text

    # The request's own id says it is no merged report; an id never taken is still 404.
    plain = (await BotClient(client).get(f"/v1/requests/{rid}")).json()
    assert (plain["request_id"], plain["report_id"], plain["merged"]) == (rid, rid, False)
    unknown = await BotClient(client).get(f"/v1/requests/{uuid.uuid4()}")
    assert refused(unknown, 404, "unknown_request")


async def merged_by_the_previous_release(db: asyncpg.Connection, rid: str, report: str) -> None:
    """A report merged into `rid` as an API of the previous release merged it: through
    0407's statement, which records no bot on the report (`bot_id` NULL)."""
    key = await db.fetchval("SELECT merge_key FROM api_intake WHERE request_id = $1", rid)
    earlier = await db.fetchval(
        "SELECT earlier FROM api_intake_submit_with_repeat(NULL, NULL, $1, NULL, NULL, $2, $3,"
        " $4, '{}'::jsonb, $5, NULL, now())",
        BOT_ID,
        report,
        C,
        key,
        float(MERGE_WINDOW_S),
    )
    assert earlier == rid
    # Its `ReportRepeated` queued, as that API would have done: the sweeper leaves it be.
    await db.execute("UPDATE api_repeat_reports SET queued_at = now() WHERE report_id = $1", report)
    row = await db.fetchrow("SELECT bot_id FROM api_repeat_reports WHERE report_id = $1", report)
    assert row is not None and row["bot_id"] is None


async def test_a_report_the_previous_release_merged_is_withdrawn_by_staff_or_a_closer_only(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Which bot sent it is not recorded, and its id proves nothing (derived from a bot,
    group and message id, and that release never answered with it): no bot of the
    community withdraws it by that id (any could, before), staff and a may_close_others bot
    do."""
    rid = await first_report(client, db, "702")
    own = request_id_for(BOT_ID, "grid-2", mid())
    await merged_by_the_previous_release(db, rid, own)

    for bot_id in (BOT_ID, NEIGHBOUR):
        for how in ("cancel", "resolve"):
            assert refused(await close(bot_id, client, own, how), 403, "not_your_request")
    assert refused(await close(OUTSIDER, client, own, "cancel"), 403, "wrong_community")
    by_closer = await close(CLOSER, client, own, "cancel")
    assert by_closer.status_code == 202 and by_closer.json()["withdrawn"] is True, by_closer.text
    path = f"/v1/requests/{own}/resolve"
    by_staff = await client.post(path, json={"request_id": own}, headers=bearer(LI))
    assert by_staff.status_code == 202 and by_staff.json()["withdrawn"] is True, by_staff.text
    await still_open(db, rid)

    # Its status is its request's, for the community's bots as any report's.
    status = await BotClient(client).get(f"/v1/requests/{own}")
    assert status.status_code == 200 and status.json()["merged"] is True, status.text
