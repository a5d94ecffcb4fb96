"""Volunteer links through the real parts: offer → signed accept/decline links → page → POST
→ AcceptOffer/DeclineOffer on Kafka → worker → PostgreSQL → the outcome on the page."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.links import action_links, helper_link
from dispatcher.testing.stack import LocalStack
from tests.support.held_ends import resolve
from tests.support.link_answers import press
from tests.support.links import request_with_offers
from tests.support.started import with_helpers
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
PHONE = "13912345678"
COMMUNITY = "comm-l"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_helpers(stack, COMMUNITY, ("l1", "l2", "l3"))


async def open_request(
    client: httpx.AsyncClient, db: asyncpg.Connection, **extra: Any
) -> tuple[str, dict[str, str]]:
    """A request whose first wave reaches l1, l2 and l3; returns (request id, offers)."""
    rid, offers = await request_with_offers(client, db, COMMUNITY, 3, **extra)
    assert len(offers) == 3, offers
    return rid, offers


def links(
    api: LocalStack, rid: str, offers: dict[str, str], helper: str, **kw: Any
) -> dict[str, str]:
    return action_links(
        api.settings(),
        request_id=rid,
        offer_id=offers[helper],
        helper_id=helper,
        community_id=COMMUNITY,
        expires_at=kw.get("expires_at", datetime.now(UTC) + timedelta(minutes=10)),
    )


def path_of(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


async def test_accept_once_then_covered_then_recorded_outcome(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, offers = await open_request(client, db)
    l1 = links(api, rid, offers, "l1")
    assert l1["accept"].startswith(api.api_url + "/l/o/")

    # Opening the link (a chat preview, a link scanner) never accepts.
    page = await client.get(path_of(l1["accept"]))
    assert page.status_code == 200 and "我可以去帮忙" in page.text
    assert PHONE not in page.text and "2单元" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert (
        await db.fetchval("SELECT status FROM offers WHERE offer_id = $1", offers["l1"]) == "sent"
    )

    # The outcome on the press, or (202 "confirming" past the API's short wait for the
    # worker) on the page it refreshes to: the same page either way.
    accepted = await press(client, path_of(l1["accept"]))
    assert accepted.status_code == 200, accepted.text
    assert "谢谢您" in accepted.text and PHONE in accepted.text and "3号楼2单元501" in accepted.text

    # The same link again: the recorded outcome (known now: at once), no second command effect.
    again = await client.post(path_of(l1["accept"]))
    assert again.status_code == 200 and PHONE in again.text
    assert (await client.get(path_of(l1["accept"]))).text.count(PHONE) >= 1
    assigned = await db.fetchval(
        "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'helper_assigned'", rid
    )
    assert assigned == 1
    assert (
        await db.fetchval("SELECT count(*) FROM api_link_uses WHERE offer_id = $1", offers["l1"])
        == 1
    )

    # Another helper, too late: covered, thank you — and no contact details.
    l2 = links(api, rid, offers, "l2")
    late = await press(client, path_of(l2["accept"]))
    assert late.status_code == 200
    assert "已有邻居接手" in late.text or "无需" in late.text, late.text
    assert PHONE not in late.text
    assert PHONE not in (await client.get(path_of(l2["accept"]))).text
    # The request ends (resolved): l1, who went in person, is free for the next tests' offers.
    await resolve(client, db, rid)


async def test_decline_is_recorded(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, offers = await open_request(client, db, helpers_needed=2)
    l3 = links(api, rid, offers, "l3")
    page = await client.get(path_of(l3["decline"]))
    assert page.status_code == 200 and "这次去不了" in page.text
    # Promises help goes on, not neighbours: at night or with nobody left the core asks no
    # neighbour (it pauses, or calls staff); before session 40 "我们会继续联系其他邻居".
    assert "继续为求助人寻找帮助" in page.text and "其他邻居" not in page.text, page.text
    r = await press(client, path_of(l3["decline"]))
    assert r.status_code == 200 and "已记录" in r.text
    assert (
        await db.fetchval("SELECT status FROM offers WHERE offer_id = $1", offers["l3"])
        == "declined"
    )


async def test_decline_link_of_a_held_request_points_to_withdrawing(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The offer message keeps both links: after accepting, its "来不了" neither promises
    that others will be asked nor answers "no action needed" while the helper stays
    assigned (the core refuses a decline of an accepted offer): it says they hold the
    request and shows the assignment's own 去不了了, which does withdraw them."""
    rid, offers = await open_request(client, db)
    l1 = links(api, rid, offers, "l1")
    accepted = await press(client, path_of(l1["accept"]))
    assert accepted.status_code == 200 and PHONE in accepted.text, accepted.text

    async def held() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM assignments WHERE request_id = $1 AND helper_id = 'l1'"
                " AND released_at IS NULL",
                rid,
            )
        )

    shown = await client.get(path_of(l1["decline"]))
    assert shown.status_code == 200, shown.text
    assert "继续联系其他邻居" not in shown.text and "您已接下这次求助" in shown.text, shown.text
    assert "/p/cant-come" in shown.text and "去不了了" in shown.text
    assert PHONE not in shown.text  # the contact stays on the accept link's page

    pressed = await press(client, path_of(l1["decline"]))  # a form shown before accepting
    assert pressed.status_code == 409, pressed.text
    assert "无需操作" not in pressed.text and "您已接下这次求助" in pressed.text, pressed.text
    assert "/p/cant-come" in pressed.text
    assert await held() == 1
    uses = "SELECT count(*) FROM api_link_uses WHERE offer_id = $1 AND use_key LIKE 'decline:%'"
    assert await db.fetchval(uses, offers["l1"]) == 0  # nothing sent, the link not used

    # The page's own 去不了了: the helper is released.
    action = re.search(r'action="([^"]*/p/cant-come)"', pressed.text)
    assert action is not None, pressed.text
    withdrew = await client.post(html.unescape(action.group(1)))
    assert withdrew.status_code in (200, 202), withdrew.text

    async def released() -> bool | None:
        return True if await held() == 0 else None

    await eventually(released, what="l1 released")


async def test_closed_request_link_says_so(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, offers = await open_request(client, db)
    r = await client.post(f"/v1/requests/{rid}/cancel", json={"request_id": rid}, headers=STAFF)
    assert r.status_code == 202

    async def closed() -> bool:
        return (
            await db.fetchval("SELECT closed_at FROM requests WHERE request_id = $1", rid)
            is not None
        )

    await eventually(closed, what="the request closed")
    l1 = links(api, rid, offers, "l1")
    assert "求助已结束" in (await client.get(path_of(l1["accept"]))).text
    r = await press(client, path_of(l1["accept"]))
    assert r.status_code == 200 and ("求助已结束" in r.text or "无需" in r.text), r.text
    assert PHONE not in r.text


async def test_tampered_expired_and_wrong_kind_links(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    made = links(api, "r-x", {"h": "o-x"}, "h")
    good = path_of(made["accept"])
    body, _, sig = good.removeprefix("/l/o/").partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"/l/o/{flipped}.{sig}", f"/l/o/{body}.{sig[:-3]}", "/l/o/garbage", f"/l/o/{body}"):
        for method in ("GET", "POST"):
            r = await client.request(method, bad)
            assert r.status_code == 400 and "链接无效" in r.text, (bad, r.status_code)
    expired = links(
        api, "r-x", {"h": "o-x"}, "h", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    for method in ("GET", "POST"):
        r = await client.request(method, path_of(expired["accept"]))
        assert r.status_code == 410 and "过期" in r.text
    # A personal helper link is not an offer link, and the other way round.
    personal = path_of(helper_link(api.settings(), helper_id="l1", community_id=COMMUNITY))
    r = await client.post("/l/o/" + personal.removeprefix("/l/h/"))
    assert r.status_code == 400
    r = await client.get("/l/h/" + good.removeprefix("/l/o/"))
    assert r.status_code == 400
    other_secret = api.settings(link_secret="another-secret-entirely")
    forged = action_links(
        other_secret,
        request_id="r",
        offer_id="o",
        helper_id="h",
        community_id=COMMUNITY,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    assert (await client.post(path_of(forged["accept"]))).status_code == 400


async def test_personal_link_sets_away_and_back(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    url = helper_link(api.settings(), helper_id="l2", community_id=COMMUNITY)
    path = path_of(url)
    page = await client.get(path)
    assert page.status_code == 200 and "暂停接单" in page.text
    r = await client.post(f"{path}/away")
    assert r.status_code == 200 and "已暂停" in r.text

    async def away(flag: bool) -> bool:
        return bool(
            await db.fetchval(
                "SELECT count(*) FROM event_log WHERE type = 'helper_updated' "
                "AND body->>'helper_id' = 'l2' AND (body->>'away')::boolean = $1",
                flag,
            )
        )

    await eventually(lambda: away(True), what="l2 away")
    r = await client.post(f"{path}/back")
    assert r.status_code == 200
    await eventually(lambda: away(False), what="l2 back")
    assert (await client.post(f"{path}/sleeping")).status_code == 422
    assert (await client.post(f"{path[:-4]}xxxx/away")).status_code == 400
