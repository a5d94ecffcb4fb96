"""Session 41: a helper held by an in-person assignment (`dispatcher/core/presence.py`: no
other request's in-person need no more urgent than it, for up to `HOLD_CAP`) is told so on
their personal page (`/l/h/<token>`), through the real API, Kafka, worker and read model.
Before, the page said nothing: the helper could not know why no offer came. The note names
the building only (never the flat or the requester's phone), says until when at the latest,
and goes once they press 已完成. Failed on the old page (no note)."""

from __future__ import annotations

import re

import asyncpg
import httpx
import pytest

from dispatcher.links import helper_link
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.link_answers import confirming, press
from tests.support.links import offer_path
from tests.support.offers_recorded import offers_to
from tests.support.started import with_helpers
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-s41-held"
HELPERS = ("hn1", "hn2")
# What a phone's browser sends opening a page (a link preview sends none and binds nothing).
BROWSER = {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
PHONE = "13911114101"
HELD = "您正在帮助一位邻居"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    return await with_helpers(stack, COMMUNITY, HELPERS)


def _personal(api: LocalStack, helper_id: str) -> str:
    url = helper_link(api.settings(push_endpoints=[]), helper_id=helper_id, community_id=COMMUNITY)
    return httpx.URL(url).raw_path.decode()


async def test_the_personal_page_says_the_helper_is_held_until_they_are_done(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    contact = {"name": "王先生", "phone": PHONE, "address": "3号楼2单元501"}
    body = builders.request(COMMUNITY, source=None, contact=contact)  # critical, to hospital
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = str(r.json()["request_id"])

    offered = await offers_to(db, rid, HELPERS)
    took = await press(client, offer_path(api, COMMUNITY, rid, offered["hn1"], "hn1"))
    assert took.status_code == 200 and PHONE in took.text, took.text

    page = await client.get(_personal(api, "hn1"), headers=BROWSER)
    assert page.status_code == 200, page.text
    note = re.search(rf"<p class=\"note\">({HELD}[^<]*)</p>", page.text)
    assert note, page.text
    said = note.group(1)
    label = await db.fetchval("SELECT building_label FROM requests WHERE request_id = $1", rid)
    assert label and f"（{label}）" in said
    # A critical request held: nothing else in person; phone help is not held back.
    assert "我们不会再请您前往其他求助" in said and "电话指导" in said
    assert re.search(r"最晚到(今天|明天)\d\d:\d\d", said), said
    assert "已完成" in said
    for private in (PHONE, "2单元", "501", "王先生"):
        assert private not in page.text

    # A neighbour holding nothing is not told they are.
    other = await client.get(_personal(api, "hn2"), headers=BROWSER)
    assert other.status_code == 200 and HELD not in other.text

    # Done: the hold ends, and the page no longer says so.
    done_path = re.search(r'action="(/l/o/[^"]+/p/done)"', took.text)
    assert done_path, took.text
    done = await client.post(done_path.group(1), data={"minutes": "30"})
    assert done.status_code == 200 or confirming(done), done.text

    async def note_gone() -> bool:
        again = await client.get(_personal(api, "hn1"), headers=BROWSER)
        return again.status_code == 200 and HELD not in again.text

    assert await eventually(note_gone, what="the note gone after 已完成")
