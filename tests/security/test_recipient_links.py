"""Attacks on the whistle's claim / 报到 links (/l/w/): a forged link (another secret), an
edited one, an expired one and a second use are refused and queue nothing; the real link
acts once, as its recipient, and the claim names them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from dispatcher.recipient_links import recipient_links
from dispatcher.testing.stack import LocalStack
from tests.support.staff import recorded_request, status_of
from tests.support.started import with_staff_file
from tests.support.waiting import eventually

A = "sw-a"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_staff_file(stack)


def _links(settings: object, rid: str, now: datetime) -> dict[str, str]:
    return recipient_links(
        settings,  # type: ignore[arg-type]
        request_id=rid,
        community_id=A,
        recipient=f"community-{A}.grid_worker",
        role="grid_worker",
        now=now,
    )


async def test_forged_edited_expired_and_reused_links_act_on_nothing(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, A)
    now = datetime.now(UTC)
    good = _links(api.settings(), rid, now)["claim"]
    forged = _links(api.settings(link_secret=SecretStr("f" * 48)), rid, now)["claim"]
    forged_report = _links(api.settings(link_secret=SecretStr("f" * 48)), rid, now)["report"]
    expired = _links(api.settings(), rid, now - timedelta(days=2))["claim"]
    body, mac = good.rsplit("/", 1)[1].split(".")
    edited = (
        good.rsplit("/", 1)[0] + "/" + body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac
    )
    for url, code in ((forged, 400), (forged_report, 400), (edited, 400), (expired, 410)):
        path = url.removeprefix(api.api_url)
        assert (await client.get(path)).status_code == code
        assert (await client.post(path)).status_code == code
    assert await db.fetchval("SELECT count(*) FROM staff_actions WHERE request_id = $1", rid) == 0
    # The real one: a confirmation page first (previews never act), then it acts once.
    path = good.removeprefix(api.api_url)
    assert (await client.get(path)).status_code == 200
    assert (await client.post(path)).status_code == 200
    assert (await client.post(path)).status_code == 409

    async def claimed() -> str | None:
        return (await status_of(client, rid))["claimed_by"]

    assert (
        await eventually(claimed, what="the claim applied")
        == f"recipient:community-{A}.grid_worker"
    )
    row = await db.fetchrow(
        "SELECT actor, action, via, queued FROM staff_actions WHERE request_id = $1", rid
    )
    assert dict(row) == {
        "actor": f"recipient:community-{A}.grid_worker",
        "action": "claim",
        "via": "link",
        "queued": True,
    }
