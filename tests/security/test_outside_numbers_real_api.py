"""Fuzz review: numbers and JSON that crashed the real API with a 500 (and wrote the raw
value into its log through the uncaught ValueError). The attacks, on the real API process
(uvicorn parsing the raw header bytes), the real worker, Kafka and PostgreSQL:

- a forged device cookie whose expiry is "²" or 5000 digits, on an offer link already bound
  to the helper's phone (the path that reads it) and on the answer page;
- the accepting phone's "done" with `minutes=²` or 5000 digits;
- a staff session cookie and a bot's `webhook-timestamp` that are no number, and a request
  body nested 100 000 deep.

Each is refused with a 4xx (or the route's own answer to a stranger), and the API log has no
traceback and none of the values. The in-process versions of every finding, the platform
callbacks included: tests/unit/test_outside_numbers_requests.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BOT_ID, TEST_BOT, bound_payload, sign
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-numbers"
HELPER = "num-helper-1"
SUPERSCRIPT = b"\xb2"
HUGE = b"9" * 5000


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.bot, stack.bot_communities = TEST_BOT, {COMMUNITY}
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        h = builders.helper(HELPER, COMMUNITY, ["driving"])
        r = await client.put(f"/v1/admin/helpers/{HELPER}", json=h, headers=STAFF)
        assert r.status_code == 202, r.text
    yield stack


def api_log(stack: LocalStack) -> str:
    return (stack.root / "api.log").read_text(errors="replace")


async def accepted_offer(stack: LocalStack, phone: httpx.AsyncClient) -> str:
    """A request, its offer to HELPER accepted on `phone`: the accept link's path."""
    r = await phone.post(
        "/v1/requests", json=builders.request(COMMUNITY, source=None), headers=STAFF
    )
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    db = await asyncpg.connect(stack.pg_dsn)
    try:

        async def offer() -> str | None:
            value = await db.fetchval(
                "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = $2", rid, HELPER
            )
            return str(value) if value is not None else None

        offer_id = await eventually(offer, what="the offer to the helper")
    finally:
        await db.close()
    link = offer_path(stack, COMMUNITY, rid, offer_id, HELPER)
    accepted = await press(phone, link)  # accepted: the phone is bound
    assert accepted.status_code == 200, accepted.text
    return link


async def test_forged_device_cookies_and_minutes_are_refused_not_500(api: LocalStack) -> None:
    async with (
        httpx.AsyncClient(base_url=api.api_url, timeout=15) as phone,
        httpx.AsyncClient(base_url=api.api_url, timeout=15) as stranger,
    ):
        link = await accepted_offer(api, phone)
        for value in (SUPERSCRIPT, HUGE):
            forged = {b"cookie": b"dispatch_helper=a:b:" + value + b":c"}
            # The link is bound to the phone: another browser's device cookie is read.
            r = await stranger.get(link, headers=forged)
            assert r.status_code == 409, (r.status_code, r.text[:200])
            r = await stranger.post(link, headers=forged)
            assert r.status_code == 403, (r.status_code, r.text[:200])
            r = await stranger.get("/l/me", headers=forged)
            assert r.status_code == 401, (r.status_code, r.text[:200])
            r = await stranger.post("/l/me/offers/o-1/accept", headers=forged)
            assert r.status_code == 401, (r.status_code, r.text[:200])
        # The accepting phone itself, with minutes that are no number.
        for minutes in ("%C2%B2", "9" * 5000):
            r = await phone.post(
                f"{link}/p/done",
                content=f"minutes={minutes}".encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert r.status_code == 422 and "分钟数不对" in r.text, (r.status_code, r.text[:200])
    assert_clean_log(api)


async def test_staff_cookies_bot_timestamps_and_deep_json_are_refused_not_500(
    api: LocalStack,
) -> None:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=15) as c:
        for cookie in (b"a:" + SUPERSCRIPT + b":x", b"dev:" + HUGE + b":x"):
            staff_cookie = {b"cookie": b"dispatch_staff=" + cookie}
            assert (await c.get("/ops/v1/overview", headers=staff_cookie)).status_code == 401
            r = await c.get("/dashboard", headers=staff_cookie)
            assert r.status_code == 200 and 'name="token"' in r.text  # the sign-in form

        body = b'{"text":"x"}'
        signed = sign(bound_payload("POST", "/v1/messages", body))
        headers_b = {k.encode(): v.encode() for k, v in signed.items()} | {
            b"webhook-timestamp": SUPERSCRIPT,
            b"x-bot-id": BOT_ID.encode(),
            b"content-type": b"application/json",
        }
        r = await c.post("/v1/messages", content=body, headers=headers_b)
        assert r.status_code == 401 and r.json()["detail"]["reason"] == "bad_headers", r.text

        deep = b"[" * 100_000
        headers = {**STAFF, "content-type": "application/json"}
        r = await c.post("/v1/requests", content=deep, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["type"] == "json_invalid"
    assert_clean_log(api)


def assert_clean_log(stack: LocalStack) -> None:
    log = api_log(stack)
    assert "Traceback" not in log, log[-3000:]
    assert " 500" not in log
    for raw in ("²", "'--5'", "9" * 50):
        assert raw not in log
