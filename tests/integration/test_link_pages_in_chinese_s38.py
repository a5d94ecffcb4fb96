"""The pages a neighbour opens from a message (`/l/…`, `/join/…`, `/card/…`) answer a
phone's browser every refusal as a page in Chinese (audit s38, helper pages finding 1).

Before, they answered in FastAPI's English JSON: the sixth tap on one's personal page within
a minute got `429 {"detail":{"reason":"rate_limited","message":"rate limit for this helper
reached; retry in 6 s"}}`; the address bar reopening a button's address (a GET of a POST
route: `/l/h/<tok>/back`, `/l/o/<tok>/p/done`) got `405 {"detail":"Method Not Allowed"}`;
a link cut short `404 {"detail":"Not Found"}`; PostgreSQL out of reach `503 {"detail":
{"reason":"database_unavailable",…}}`. Now (`errors.refused`, `errors.wants_page`): the
same status and Retry-After, in Chinese; a reopened button address is sent (303) to the page
the button belongs to. A client that does not ask for HTML there (a card's JSON press, a
script) and every other path (/v1/) keep the JSON. Through the real API (Kafka, PostgreSQL,
worker); the outage through an in-process API whose PostgreSQL is a closed port."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.invites import invite_token
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.clock import utcnow
from dispatcher.links import helper_link, offer_token
from dispatcher.testing.ports import free_port
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "s38-zh-pages"
# What a phone's browser sends on a navigation and on a form's post.
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
BAD_LINK = "这条链接不完整或已被修改"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        r = await client.put(
            "/v1/admin/helpers/zh-1",
            json=builders.helper("zh-1", COMMUNITY, ["driving"]),
            headers=STAFF,
        )
        assert r.status_code == 202, r.text
    yield stack


def personal(api: LocalStack, helper_id: str) -> str:
    url = helper_link(api.settings(push_endpoints=[]), helper_id=helper_id, community_id=COMMUNITY)
    return httpx.URL(url).raw_path.decode()


def offer_path(api: LocalStack) -> str:
    token = offer_token(
        api.settings(push_endpoints=[]),
        action="accept",
        request_id="req-zh-1",
        offer_id="offer-zh-1",
        helper_id="zh-1",
        community_id=COMMUNITY,
        expires_at=utcnow() + timedelta(hours=1),
    )
    return f"/l/o/{token}"


def html(answer: httpx.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("text/html")


async def test_taps_over_the_helpers_limit_answer_a_page_in_chinese(
    api: LocalStack, db: asyncpg.Connection
) -> None:
    async def known() -> bool:
        return bool(await db.fetchval("SELECT true FROM helpers WHERE helper_id = 'zh-1'"))

    await eventually(known, what="the helper recorded")
    path = personal(api, "zh-1")
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=BROWSER) as phone:
        # The personal page's budget is 5 taps, then one every 6 s: taps go on until one is
        # refused (within a few taps of the fifth, however slow the machine).
        limited = None
        for n in range(40):
            status = "busy" if n % 2 else "back"
            tap = await phone.post(f"{path}/{status}")
            assert html(tap), (n, tap.status_code, tap.text)
            if tap.status_code == 429:
                limited = tap
                break
            assert tap.status_code == 200, (n, tap.status_code, tap.text)
        assert limited is not None, "no tap was refused"
    wait = limited.headers["retry-after"]
    assert int(wait) >= 1
    assert f"操作太频繁，请稍等{wait}秒再试" in limited.text, limited.text
    assert '<html lang="zh-CN">' in limited.text and "rate_limited" not in limited.text
    assert limited.headers["cache-control"] == "no-store"


async def test_a_reopened_button_address_goes_to_its_page(api: LocalStack) -> None:
    # Another helper's link: zh-1's is bound to the first test's phone (session 39).
    helper, offer = personal(api, "zh-2"), offer_path(api)
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=BROWSER) as phone:
        for button, owner in (
            (f"{helper}/back", helper),
            (f"{helper}/quiet-hours/clear", helper),
            (f"{offer}/p/done", offer),
            ("/l/me/offers/o-1/accept?c=x", "/l/me?c=x"),
        ):
            reopened = await phone.get(button)
            assert reopened.status_code == 303, (button, reopened.status_code, reopened.text)
            assert reopened.headers["location"] == owner, reopened.headers
        followed = await phone.get(f"{helper}/back", follow_redirects=True)
        assert followed.status_code == 200 and "我的接单状态" in followed.text, followed.text
        # No GET route there at all: a page saying where to open it, with Allow.
        other = await phone.put(helper)
        assert other.status_code == 405 and html(other), other.text
        assert "请从消息中的链接打开本页面" in other.text and "GET" in other.headers["allow"]
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as script:
        # A client that does not ask for HTML: FastAPI's JSON, as before.
        plain = await script.get(f"{helper}/back")
        assert plain.status_code == 405 and plain.json() == {"detail": "Method Not Allowed"}


async def test_unknown_links_and_api_paths(api: LocalStack) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30, headers=BROWSER) as phone:
        for cut in ("/l/o/", "/l/x/abc", "/join/", "/l/h/" + "A" * 1100):
            shown = await phone.get(cut)
            assert shown.status_code in (404, 422) and html(shown), (cut, shown.text)
            assert BAD_LINK in shown.text, (cut, shown.text)
        card = await phone.get("/card/no-such-card-0123456789")
        assert card.status_code == 404 and "联络卡无法识别" in card.text, card.text
        # The API's own paths keep their JSON, whatever the client accepts.
        missing = await phone.get("/v1/requests/no-such-request", headers=STAFF)
        assert missing.status_code == 404 and missing.headers["content-type"].startswith(
            "application/json"
        ), missing.text
        nowhere = await phone.get("/v1/nowhere")
        assert nowhere.status_code == 404 and nowhere.json() == {"detail": "Not Found"}
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as script:
        card = await script.get("/card/no-such-card-0123456789")
        assert card.status_code == 404 and card.json()["detail"]["reason"] == "unknown_card"
        pressed = await script.post(
            "/card/no-such-card-0123456789", json={"category": "errand"}, headers=BROWSER
        )
        assert pressed.status_code == 404 and pressed.json()["detail"]["reason"] == "unknown_card"


async def test_postgresql_out_of_reach_is_a_page_for_a_browser(stack: LocalStack) -> None:
    settings = stack.settings(pg_dsn=f"postgresql://dispatch@127.0.0.1:{free_port()}/dispatch")
    deps = ApiDeps(settings=settings, sink=KafkaCommandSink(settings))
    transport = httpx.ASGITransport(app=create_app(settings, deps), raise_app_exceptions=False)
    invite = invite_token(
        settings, community_id=COMMUNITY, expires_at=utcnow() + timedelta(hours=1)
    )
    form = {"name": "林", "phone": "13900001111", "compound": "和平小区", "building": "3号楼"}
    token = offer_token(
        settings,
        action="accept",
        request_id="req-zh-2",
        offer_id="offer-zh-2",
        helper_id="zh-1",
        community_id=COMMUNITY,
        expires_at=utcnow() + timedelta(hours=1),
    )
    offer = f"/l/o/{token}"
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
            for method, path, data in (("GET", offer, None), ("POST", f"/join/{invite}", form)):
                shown = await c.request(method, path, data=data, headers=BROWSER)
                assert shown.status_code == 503 and html(shown), (path[:8], shown.text)
                assert shown.headers["retry-after"] == "5"
                assert re.search(r"系统繁忙，请5秒后再试", shown.text), shown.text
                assert "120" in shown.text and "database" not in shown.text
                plain = await c.request(method, path, data=data)
                assert plain.status_code == 503
                assert plain.json()["detail"]["reason"] == "database_unavailable"
    finally:
        await deps.close()
