"""The whistle's and the referral's claim link (`/l/w/`) tells what the core decided, on the
real stack (API, Kafka, worker, PostgreSQL).

Before session 38 the page said "已接手，谢谢！请尽快联系求助人。" as soon as Kafka had the
command, whatever the core made of it: a request staff had already taken on (the core
refuses `already_claimed`: two people then each believed they held it) or one already
closed (`request_closed`); its GET offered 我来接手 on a closed request, and named the
category by its wire value ("网格员：hospital_transport")."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from dispatcher.recipient_links import recipient_links
from dispatcher.testing.stack import LocalStack
from schemas.catalogue import label_zh
from tests.support.staff import DISTRICT, bearer, recorded_request, status_of
from tests.support.started import with_staff_file
from tests.support.waiting import eventually

A = "claim-truth"
GRID = f"recipient:community-{A}.grid_worker"
REJECTED = (
    "SELECT body->>'reason' FROM event_log WHERE request_id = $1"
    " AND type = 'command_rejected' AND body->>'command_type' = 'claim_request'"
)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_staff_file(stack)


def claim_path(api: LocalStack, rid: str) -> str:
    url = recipient_links(
        api.settings(),
        request_id=rid,
        community_id=A,
        recipient=f"community-{A}.grid_worker",
        role="grid_worker",
        now=datetime.now(UTC),
    )["claim"]
    return url.removeprefix(api.api_url)


async def claimed_by(client: httpx.AsyncClient, rid: str) -> str | None:
    value: str | None = (await status_of(client, rid))["claimed_by"]
    return value


async def test_a_claim_of_a_request_staff_hold_is_told_it_is_taken(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, A)
    path = claim_path(api, rid)
    opened = await client.get(path)
    assert opened.status_code == 200 and "<form" in opened.text, opened.text
    assert label_zh("hospital_transport") in opened.text, opened.text
    assert "hospital_transport" not in opened.text, opened.text  # the wire value, untranslated
    r = await client.post(f"/ops/v1/requests/{rid}/claim", headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text
    staff = await eventually(lambda: claimed_by(client, rid), what="the staff claim recorded")
    assert staff is not None and staff != GRID

    again = await client.get(path)
    assert again.status_code == 200 and "<form" not in again.text, again.text
    shown = again.text.split("<main", 1)[1]
    assert "已由其他工作人员接手" in shown and staff not in shown, again.text  # not named

    pressed = await client.post(path)  # a page opened before the staff claim
    assert pressed.status_code == 409, pressed.text
    assert "已由其他工作人员接手" in pressed.text and "请尽快联系求助人" not in pressed.text
    assert await db.fetchval(REJECTED, rid) == "already_claimed"
    assert await claimed_by(client, rid) == staff  # the first claim holds


async def test_a_claim_of_a_closed_request_is_told_it_ended(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, A)
    path = claim_path(api, rid)
    r = await client.post(f"/ops/v1/requests/{rid}/cancel", headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text

    async def closed() -> bool:
        return (await status_of(client, rid))["closed_at"] is not None

    await eventually(closed, what="the cancel recorded")
    opened = await client.get(path)
    assert opened.status_code == 200 and "<form" not in opened.text, opened.text
    assert "求助已结束" in opened.text, opened.text

    pressed = await client.post(path)
    assert pressed.status_code == 409, pressed.text
    assert "求助已结束" in pressed.text and "已接手" not in pressed.text, pressed.text
    assert await db.fetchval(REJECTED, rid) == "request_closed"
    assert await claimed_by(client, rid) is None


async def test_a_claim_the_core_takes_says_so_and_the_page_then_says_it_is_theirs(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, A)
    path = claim_path(api, rid)
    pressed = await client.post(path)
    assert pressed.status_code == 200, pressed.text
    assert "已接手" in pressed.text, pressed.text
    # Answered once the core took it: the read model has it by then.
    assert await claimed_by(client, rid) == GRID
    opened = await client.get(path)
    assert "<form" not in opened.text and "您已接手" in opened.text, opened.text
