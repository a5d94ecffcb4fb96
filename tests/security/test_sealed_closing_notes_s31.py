"""What people type when a request ends travels sealed (dispatcher/sealing.py,
`seal_closing`): a requester's cancel reason, staff's resolve and referral notes and the
department they name.

The attack: someone who can read the broker (or PostgreSQL's `event_log`) reads every
record after a bot cancels with "my son 138… will come, I live at building 9…", staff
resolve with such a note, and staff refer to a "department" typed with a phone. None of
the phones or flats may appear anywhere; the request's status shows the department with
its numbers masked.

A push refused by a chat platform whose error message echoes what it refused (a phone, a
flat) becomes a `DeliveryFailed` command and an event with that text masked, its code kept.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver, platform_error
from dispatcher.testing.stack import LocalStack
from tests.security.test_sealed_contacts import leaks, read_everything
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "sec-closing"
SON_PHONE = "13800004444"
FLAT = "住9号楼9单元909室"
REASON = f"不用了，我儿子{SON_PHONE}会来，{FLAT}"
NOTE_PHONE = "13911112222"
NOTE = f"已电话{NOTE_PHONE}确认，送到3栋1202室"
DEPT_PHONE = "13722223333"
DEPARTMENT = f"街道王主任{DEPT_PHONE}"
PHONE_IN_PUSH = "13655556666"
FLAT_IN_PUSH = "7号楼2单元708室"
FLAT_IN_WORDS = "三号楼二单元五零二室"  # in Chinese numerals (before session 34: kept plain)
WECOM_PATH = "/cgi-bin/webhook/send"
# A platform refusing a push may echo what it refused: the request's phone and flat.
ECHO = f"content contains sensitive words: 您好{PHONE_IN_PUSH}，{FLAT_IN_PUSH}，{FLAT_IN_WORDS}"
# A flat as "1202室", as "909室": four digits alone are found in ids ("…-361202929267", a
# request's uuid, was read as the note leaking into every topic that names the request).
MARKERS = (SON_PHONE, "909室", NOTE_PHONE, "1202室", DEPT_PHONE)


@pytest.fixture(scope="module")
async def robot() -> AsyncIterator[PushReceiver]:
    """A chat platform's robot that refuses every push, echoing what it refused."""
    async with PushReceiver() as receiver:
        receiver.set_default(WECOM_PATH, platform_error(40058, message=ECHO))
        yield receiver


@pytest.fixture(scope="module")
async def api(stack: LocalStack, robot: PushReceiver) -> AsyncIterator[httpx.AsyncClient]:
    endpoint = {"name": "grid-robot", "kind": "wecom", "url": robot.url(WECOM_PATH)}
    endpoint |= {"token": "k", "batch_window_seconds": 0}
    stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([endpoint])
    stack.bot_communities.add(COMMUNITY)
    stack.start_worker("worker-closing")
    await stack.start_api()
    stack.extra_env.pop("DISPATCH_PUSH_ENDPOINTS")  # read at start
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        yield client


async def opened(api: httpx.AsyncClient, n: int) -> str:
    """Request n (its own household and building: never merged with another as one)."""
    body = builders.request(
        COMMUNITY,
        place=builders.place(COMMUNITY, building=f"b{n}", household_id=f"h-closing-{n}"),
        category="errand",
        urgency="normal",
        skills=["errands"],
        text="帮忙取快递",
    )
    r = await BotClient(api).post("/v1/requests", body)
    assert r.status_code == 202, r.text
    request_id: str = r.json()["request_id"]

    async def recorded() -> bool:
        return (await api.get(f"/v1/requests/{request_id}", headers=STAFF)).status_code == 200

    await eventually(recorded, what="the request recorded", timeout=60)
    return request_id


async def closed(api: httpx.AsyncClient, request_id: str, status: str) -> dict[str, object]:
    async def done() -> dict[str, object] | None:
        out: dict[str, object] = (await api.get(f"/v1/requests/{request_id}", headers=STAFF)).json()
        return out if out["status"] == status else None

    seen: list[str] = []

    async def done_or_note() -> dict[str, object] | None:
        out = await done()
        if out is None:
            seen[:] = [(await api.get(f"/v1/requests/{request_id}", headers=STAFF)).text]
        return out

    try:
        return await eventually(done_or_note, what=f"the request {status}", timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {seen}") from exc


async def test_closing_notes_never_reach_kafka_or_the_event_log_in_the_clear(
    stack: LocalStack, api: httpx.AsyncClient
) -> None:
    cancelled, resolved, referred = [await opened(api, n) for n in range(3)]
    r = await BotClient(api).post(
        f"/v1/requests/{cancelled}/cancel", {"request_id": cancelled, "reason": REASON}
    )
    assert r.status_code == 202, r.text
    r = await api.post(f"/ops/v1/requests/{resolved}/resolve", json={"note": NOTE}, headers=STAFF)
    assert r.status_code == 202, r.text
    refer = {"to": "department", "department": DEPARTMENT, "note": NOTE}
    r = await api.post(f"/ops/v1/requests/{referred}/refer", json=refer, headers=STAFF)
    assert r.status_code == 202, r.text
    await closed(api, cancelled, "cancelled")
    await closed(api, resolved, "resolved")
    status = await closed(api, referred, "referred")
    found = await read_everything(stack)
    assert any(b"request_referred" in r for r in found[stack.topic("events")])
    assert leaks(found, MARKERS) == []
    assert any(b'"sealed_note"' in r for r in found[stack.topic("commands")])
    # Staff still see where it went: the name, its phone masked.
    assert status["referred_department"] == "街道王主任[phone]"
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        rows = await conn.fetch(
            "SELECT body::text AS body FROM event_log WHERE request_id = ANY($1)",
            [cancelled, resolved, referred],
        )
        audit = await conn.fetch("SELECT detail FROM staff_actions WHERE request_id = $1", referred)
    finally:
        await conn.close()
    stored = [r["body"] for r in rows] + [r["detail"] for r in audit]
    assert [m for m in MARKERS for s in stored if m in s] == []
    # Not even sealed: the log is kept without limit and nothing opens notes there (before
    # session 34 every closing event's box was kept in it for good).
    assert any("request_cancelled" in s for s in stored)
    assert not any("sealed_note" in s for s in stored)


async def test_a_platform_error_echoing_a_phone_reaches_no_topic(
    stack: LocalStack, api: httpx.AsyncClient, robot: PushReceiver
) -> None:
    h = builders.helper("e1", COMMUNITY, ["errands"], channels=["grid-robot"])
    r = await api.put("/v1/admin/helpers/e1", json=h, headers=STAFF)
    assert r.status_code == 202, r.text
    await opened(api, 9)

    async def failed() -> dict[str, list[bytes]] | None:
        found = await read_everything(stack)
        events = found[stack.topic("events")]
        return found if any(b'"offer_failed"' in r for r in events) else None

    found = await eventually(failed, what="the offer's failure recorded", timeout=90)
    assert robot.for_path(WECOM_PATH)  # the push was refused with the echo
    reasons = [r for r in found[stack.topic("commands")] if b'"delivery_failed"' in r]
    assert reasons and all(b"40058" in r for r in reasons)  # the code is kept
    assert leaks(found, (PHONE_IN_PUSH, FLAT_IN_PUSH, "五零二", FLAT_IN_WORDS)) == []
