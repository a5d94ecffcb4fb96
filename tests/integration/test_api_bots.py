"""Bot intake through the real parts: signed HTTP → API subprocess → Kafka → worker → PostgreSQL.

One stack (worker + API) for the module. Covers raw chat messages and structured requests,
Standard Webhooks authentication and every way it refuses, idempotent retries, merging the
same incident from two groups, status/cancel/resolve, rate and body limits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api import idempotency
from dispatcher.api.webhook_signature import bound_payload, signed_headers
from dispatcher.groupchat.bots import secret_key
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET_OLD = "whsec_" + "b2xkLXNlY3JldC1mb3ItYm90LWEtMTIzNDU2"  # "old-secret-for-bot-a-123456"
SECRET_NEW = "whsec_" + "bmV3LXNlY3JldC1mb3ItYm90LWEtNjU0MzIx"  # "new-secret-for-bot-a-654321"
KEY_OLD = secret_key(SecretStr(SECRET_OLD))
KEY_NEW = secret_key(SecretStr(SECRET_NEW))
KEY_B = b"secret-of-bot-b-0123456789"
KEY_SLOW = b"secret-of-bot-slow-012345"


def whsec(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


COMPOUND = {
    "community_id": "comm-a",
    "grid_id": "g1",
    "compound_id": "c1",
    "compound_name": "图强小区",
}

BOTS = {
    "bots": [
        {
            "bot_id": "bot-a",
            "secrets": [SECRET_OLD, SECRET_NEW],
            "communities": ["comm-a"],
            "groups": {"grid-1": COMPOUND, "grid-2": COMPOUND},
            "rate_per_minute": 6000,
            "burst": 500,
            "group_rate_per_minute": 6000,
            "group_burst": 500,
        },
        {
            "bot_id": "bot-b",
            "secrets": [whsec(KEY_B)],
            "communities": ["comm-b"],
            "groups": {"grid-b": {"community_id": "comm-b", "compound_id": "cb"}},
        },
        {
            "bot_id": "bot-slow",
            "secrets": [whsec(KEY_SLOW)],
            "communities": ["comm-s"],
            "groups": {
                "grid-s1": {"community_id": "comm-s"},
                "grid-s2": {"community_id": "comm-s"},
            },
            "rate_per_minute": 1,
            "burst": 4,
            "group_rate_per_minute": 1,
            "group_burst": 2,
        },
    ]
}

PREGNANT = "亲爱的邻居们，我是3号楼的，怀孕六个月，肚子疼喘不上气，谁能帮忙送我去医院？"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    path = stack.root / "api-test-bots.json"  # not the harness's bots.json
    path.write_text(json.dumps(BOTS), encoding="utf-8")
    stack.extra_env["DISPATCH_BOTS_FILE"] = str(path)
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        # One driver in building 3 of comm-a, so requests there get an offer.
        r = await client.put(
            "/v1/admin/helpers/a-d1",
            json=builders.helper("a-d1", "comm-a", ["driving"], place=builders.place("comm-a")),
            headers=STAFF,
        )
        assert r.status_code == 202, r.text
    yield stack


def signed(
    bot: str,
    body: bytes,
    keys: list[bytes] | None = None,
    *,
    method: str = "POST",
    path: str = "/v1/messages",
    **kw: Any,
) -> dict[str, str]:
    keys = keys or {"bot-a": [KEY_NEW], "bot-b": [KEY_B], "bot-slow": [KEY_SLOW]}[bot]
    payload = bound_payload(method, path, body)
    return {
        "content-type": "application/json",
        "x-bot-id": bot,
        **signed_headers(keys, payload, **kw),
    }


async def bot_post(
    client: httpx.AsyncClient, path: str, payload: Any, bot: str = "bot-a", **kw: Any
) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    extra = kw.pop("headers", {})
    return await client.post(
        path, content=body, headers={**signed(bot, body, path=path, **kw), **extra}
    )


async def bot_get(client: httpx.AsyncClient, path: str, bot: str = "bot-a") -> httpx.Response:
    return await client.get(path, headers=signed(bot, b"", method="GET", path=path))


def message(text: str, message_id: str, group: str = "grid-1", **extra: Any) -> dict[str, Any]:
    return {
        "group_id": group,
        "message_id": message_id,
        "sender": {"id": "wx-123", "name": "王女士", "phone": "13912345678"},
        "text": text,
        **extra,
    }


# ------------------------------------------------------------------ raw chat messages


async def test_chat_that_is_not_a_request_gets_200_and_dispatches_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    r = await bot_post(client, "/v1/messages", message("今天天气不错，大家早上好", "m-chat"))
    assert r.status_code == 200, r.text
    assert r.json()["is_request"] is False and r.json()["request_id"] is None
    assert await db.fetchval("SELECT count(*) FROM api_intake") == 0


async def test_help_request_is_202_with_reply_dispatched_once_and_retry_is_safe(
    client: httpx.AsyncClient, db: asyncpg.Connection, api: LocalStack
) -> None:
    # The answer (and its advice) never waits for the dispatch: it comes back with the worker
    # frozen (SIGSTOP), so nothing past the command queue can be in its path.
    (worker,) = api.workers()
    worker.popen.send_signal(signal.SIGSTOP)
    try:
        r = await bot_post(client, "/v1/messages", message(PREGNANT, "m-preg"))
        assert r.status_code == 202, r.text
        out = r.json()
        # The platform retries (new webhook-id, same message id): same answer, no new dispatch.
        again = await bot_post(client, "/v1/messages", message(PREGNANT, "m-preg"))
    finally:
        worker.popen.send_signal(signal.SIGCONT)
    assert out["is_request"] and out["advise_emergency_call"] and out["emergency_number"] == "120"
    assert "120" in out["reply_text"] and "邻居" in out["reply_text"]
    assert "13912345678" not in r.text  # the reply goes to the whole group
    request_id = out["request_id"]
    assert again.status_code == 202 and again.json() == out
    assert again.headers.get("idempotent-replayed") == "true"

    async def offered() -> int:
        return int(
            await db.fetchval("SELECT count(*) FROM offers WHERE request_id = $1", request_id)
        )

    assert await eventually(offered, what="an offer for the pregnant neighbour") == 1
    opened = await db.fetchval(
        "SELECT count(*) FROM event_log WHERE request_id = $1 AND type = 'request_opened'",
        request_id,
    )
    assert opened == 1
    row = await db.fetchrow("SELECT * FROM requests WHERE request_id = $1", request_id)
    assert row["category"] in {"medical", "hospital_transport"}
    assert row["building_label"] == "图强小区 3号楼"
    # Privacy: the phone never reaches the event log.
    dump = await db.fetchval("SELECT string_agg(body::text, ' ') FROM event_log")
    assert "13912345678" not in dump


async def test_same_message_id_with_another_text_is_422(client: httpx.AsyncClient) -> None:
    first = await bot_post(
        client, "/v1/messages", message("2号楼有老人摔倒了起不来，快来人", "m-x")
    )
    assert first.status_code == 202, first.text
    other = await bot_post(client, "/v1/messages", message("5号楼水管爆了，谁会修？", "m-x"))
    assert other.status_code == 422
    assert other.json()["detail"]["reason"] == "idempotency_key_reused"


async def test_concurrent_duplicate_in_flight_is_409(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    payload = message("9号楼电梯里有人被困，谁能帮忙？", "m-inflight")
    await db.execute(
        "INSERT INTO api_idempotency (bot_id, key, fingerprint, state) "
        "VALUES ($1, $2, $3, 'in_flight')",
        "bot-a",
        "msg:grid-1:m-inflight",
        idempotency.fingerprint(payload),
    )
    r = await bot_post(client, "/v1/messages", payload)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "in_flight"
    assert r.headers["retry-after"] == "1"


async def test_parallel_retries_dispatch_once(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    payload = message("8号楼有位老人晕倒了，快来人帮忙！", "m-parallel")
    answers = await asyncio.gather(*(bot_post(client, "/v1/messages", payload) for _ in range(6)))
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {202, 409} and 202 in codes, codes
    ids = {a.json()["request_id"] for a in answers if a.status_code == 202}
    assert len(ids) == 1
    assert await db.fetchval("SELECT count(*) FROM api_intake WHERE request_id = $1", *ids) == 1


async def test_same_incident_from_two_groups_is_merged(client: httpx.AsyncClient) -> None:
    a = await bot_post(
        client, "/v1/messages", message("6号楼有个老人摔倒了，需要人帮忙扶", "m-g1", "grid-1")
    )
    b = await bot_post(
        # The same words' weight (urgent): a report of another urgency is not merged
        # (tests/integration/test_merge_refusals.py).
        client,
        "/v1/messages",
        message("6号楼楼下也有人说老人摔倒了，需要人帮忙扶", "m-g2", "grid-2"),
    )
    assert a.status_code == 202 and b.status_code == 202, (a.text, b.text)
    assert b.json()["merged"] is True and a.json()["merged"] is False
    assert b.json()["request_id"] == a.json()["request_id"]
    assert "同一求助" in b.json()["reply_text"]


async def test_same_incident_reported_at_once_opens_one_request(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # The merge check and the intake row are one statement under the merge key's lock: of
    # simultaneous reports of one incident, exactly one opens the request.
    reports = [
        message("7号楼有个老人摔倒了，需要人帮忙扶", f"m-burst-{i}", f"grid-{1 + i % 2}")
        for i in range(4)
    ]
    answers = await asyncio.gather(*(bot_post(client, "/v1/messages", p) for p in reports))
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    ids = {a.json()["request_id"] for a in answers}
    assert len(ids) == 1
    assert sorted(a.json()["merged"] for a in answers) == [False, True, True, True]
    assert await db.fetchval("SELECT reports FROM api_intake WHERE request_id = $1", *ids) == 4


# ------------------------------------------------------------------ authentication


async def test_signature_rejections(client: httpx.AsyncClient) -> None:
    payload = message("3号楼有人摔倒了，谁能帮忙？", "m-auth")
    body = json.dumps(payload).encode()
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "missing_headers"),
        ({"x-bot-id": "bot-a"}, "missing_headers"),
        ({**signed("bot-a", body, keys=[b"not-the-secret-at-all-0000"])}, "bad_signature"),
        ({**signed("bot-a", body + b" ")}, "bad_signature"),  # body changed after signing
        ({**signed("bot-a", body, timestamp=int(time.time()) - 600)}, "stale_timestamp"),
        ({**signed("bot-a", body, timestamp=int(time.time()) + 600)}, "stale_timestamp"),
        ({**signed("nobody", body, keys=[KEY_NEW])}, "bad_signature"),  # no bot-id oracle
        ({**signed("bot-a", body), "webhook-signature": "v2,abc"}, "bad_signature"),
        ({**signed("bot-a", body), "webhook-timestamp": "soon"}, "bad_headers"),
    ]
    for headers, reason in cases:
        r = await client.post(
            "/v1/messages", content=body, headers={"content-type": "application/json", **headers}
        )
        assert r.status_code == 401, (reason, r.text)
        assert r.json()["detail"]["reason"] == reason


async def test_rotation_old_and_new_secret_and_multiple_signatures(
    client: httpx.AsyncClient,
) -> None:
    for i, keys in enumerate([[KEY_OLD], [KEY_NEW], [b"stale-key-no-longer-valid-00", KEY_NEW]]):
        r = await bot_post(client, "/v1/messages", message("大家好", f"m-rot{i}"), keys=keys)
        assert r.status_code == 200, r.text


async def test_replayed_webhook_id_is_refused(client: httpx.AsyncClient) -> None:
    body = json.dumps(message("大家晚上好", "m-replay")).encode()
    headers = signed("bot-a", body)
    first = await client.post("/v1/messages", content=body, headers=headers)
    assert first.status_code == 200
    replay = await client.post("/v1/messages", content=body, headers=headers)
    assert replay.status_code == 409 and replay.json()["detail"]["reason"] == "replayed"


async def test_bot_acts_only_in_its_own_communities(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # A structured request for another community.
    r = await bot_post(client, "/v1/requests", builders.request("comm-b", source=None))
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "wrong_community"
    # A group the bot is not configured for.
    r = await bot_post(client, "/v1/messages", message("谁能帮忙搬东西", "m-g", group="grid-b"))
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "unknown_group"
    # Status / cancel of bot-b's request.
    r = await bot_post(
        client, "/v1/messages", message("3号楼老人摔倒了快来人", "m-b", "grid-b"), bot="bot-b"
    )
    assert r.status_code == 202, r.text
    other = r.json()["request_id"]
    assert (await bot_get(client, f"/v1/requests/{other}")).status_code == 403
    r = await bot_post(client, f"/v1/requests/{other}/cancel", {"request_id": other})
    assert r.status_code == 403


async def test_malformed_bodies_are_422(client: httpx.AsyncClient) -> None:
    bad: list[bytes] = [
        b"{not json",
        b"[]",
        json.dumps({"group_id": "grid-1"}).encode(),  # missing fields
        json.dumps({**message("hi", "m-1"), "extra": 1}).encode(),  # unknown field
        json.dumps(message("x" * 2001, "m-2")).encode(),  # too long
        json.dumps(message("", "m-3")).encode(),  # empty text
        json.dumps(message("hi", "bad id with spaces")).encode(),
    ]
    for body in bad:
        r = await client.post("/v1/messages", content=body, headers=signed("bot-a", body))
        assert r.status_code == 422, (body[:40], r.text)


# ------------------------------------------------------------------ structured requests


async def test_malformed_request_bodies_are_4xx_and_never_echo_the_body(
    client: httpx.AsyncClient,
) -> None:
    """The bot intake validates its body by hand (the lean route, issue 18): the same answers
    as a declared FastAPI body, and no error repeats what the body held."""
    phone = "13800000000"
    good = json.dumps(builders.request("comm-a"), ensure_ascii=False)
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        # (body, header changes, status, the error's type)
        (f'{{"note": "{phone}", '.encode(), {}, 422, "json_invalid"),
        (f'{{"note": "电话{phone}"}}'.encode("gbk"), {}, 400, ""),  # not UTF-8: not a 500
        (
            good.replace("comm-a", f"comm-a {phone}").encode(),
            {"content-type": "text/plain"},
            422,
            "model_attributes_type",
        ),
        (good.encode(), {"content-type": ""}, 422, "model_attributes_type"),
        (b"", {}, 422, "missing"),
        (f'["{phone}"]'.encode(), {}, 422, "model_type"),
    ]
    for body, changes, status, kind in cases:
        headers = {**signed("bot-a", body, path="/v1/requests"), **changes}
        headers = {k: v for k, v in headers.items() if v}
        r = await client.post("/v1/requests", content=body, headers=headers)
        assert r.status_code == status, (body[:40], r.text)
        assert phone not in r.text, r.text
        if kind:
            assert r.json()["detail"][0]["type"] == kind, r.text
    # A JSON type with parameters or a +json subtype is JSON, as FastAPI has it.
    for content_type in ("application/json; charset=utf-8", "application/vnd.bot+json"):
        body = json.dumps(builders.request("comm-a", source=None)).encode()
        headers = {**signed("bot-a", body, path="/v1/requests"), "content-type": content_type}
        r = await client.post("/v1/requests", content=body, headers=headers)
        assert r.status_code == 202, (content_type, r.text)


async def test_structured_request_signed_unsigned_and_staff(client: httpx.AsyncClient) -> None:
    body = builders.request("comm-a", source={"group_id": "grid-1", "message_id": "s-1"})
    r = await client.post("/v1/requests", json=body)
    assert r.status_code == 401
    r = await bot_post(client, "/v1/requests", body)
    assert r.status_code == 202, r.text
    again = await bot_post(client, "/v1/requests", body)
    assert again.json()["request_id"] == r.json()["request_id"]
    r = await client.post("/v1/requests", json=builders.request("comm-z"), headers=STAFF)
    assert r.status_code == 202, r.text
    r = await bot_post(client, "/v1/requests", {**body, "source": {"bot_id": "bot-b"}})
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "bot_mismatch"


# ------------------------------------------------------------------ status, cancel, resolve


async def test_status_cancel_and_resolve(client: httpx.AsyncClient) -> None:
    r = await bot_post(client, "/v1/messages", message("11号楼需要人帮忙搬个柜子", "m-life"))
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]

    async def status() -> dict[str, Any] | None:
        resp = await bot_get(client, f"/v1/requests/{rid}")
        return resp.json() if resp.status_code == 200 else None

    seen = await eventually(status, what="the request's status")
    assert seen["request_id"] == rid and seen["status"] == "open"
    assert (await bot_get(client, "/v1/requests/no-such-request")).status_code == 404

    r = await bot_post(client, f"/v1/requests/{rid}/cancel", {"request_id": "other", "reason": "x"})
    assert r.status_code == 422
    r = await bot_post(
        client, f"/v1/requests/{rid}/cancel", {"request_id": rid, "reason": "已解决"}
    )
    assert r.status_code == 202, r.text

    async def closed() -> dict[str, Any] | None:
        s = await status()
        return s if s and s["status"] == "cancelled" else None

    assert (await eventually(closed, what="cancelled"))["outcome"] == "cancelled"

    # Resolve, by staff, with a rating.
    r = await bot_post(client, "/v1/messages", message("12号楼需要人帮忙搬个沙发", "m-res"))
    rid2 = r.json()["request_id"]
    r = await client.post(
        f"/v1/requests/{rid2}/resolve", json={"request_id": rid2, "rating": 5}, headers=STAFF
    )
    assert r.status_code == 202, r.text
    r = await client.post(
        f"/v1/requests/{rid2}/resolve", json={"request_id": rid2, "rating": 9}, headers=STAFF
    )
    assert r.status_code == 422

    async def resolved() -> bool:
        resp = await client.get(f"/v1/requests/{rid2}", headers=STAFF)
        return resp.status_code == 200 and resp.json()["status"] == "resolved"

    await eventually(resolved, what="resolved")
    bad_staff = {"Authorization": "Bearer nope"}
    r = await client.post(
        f"/v1/requests/{rid2}/cancel", json={"request_id": rid2}, headers=bad_staff
    )
    assert r.status_code == 401


# ------------------------------------------------------------------ limits


async def test_rate_limits_per_bot_and_per_group(client: httpx.AsyncClient) -> None:
    codes = []
    for i in range(3):
        r = await bot_post(
            client, "/v1/messages", message("大家好", f"s-{i}", "grid-s1"), bot="bot-slow"
        )
        codes.append(r.status_code)
        if r.status_code == 429:
            assert r.json()["detail"]["message"].startswith("rate limit for this group")
            assert int(r.headers["retry-after"]) >= 1
    assert codes == [200, 200, 429]
    r = await bot_post(client, "/v1/messages", message("大家好", "s-9", "grid-s2"), bot="bot-slow")
    assert r.status_code == 200  # another group has its own bucket
    r = await bot_post(client, "/v1/messages", message("大家好", "s-10", "grid-s2"), bot="bot-slow")
    assert r.status_code == 429  # the bot's own bucket (burst 4) is empty now
    assert "bot" in r.json()["detail"]["message"] and int(r.headers["retry-after"]) >= 1


async def test_body_limit_is_413(client: httpx.AsyncClient) -> None:
    body = b"{" + b" " * (300 * 1024) + b"}"
    r = await client.post("/v1/messages", content=body, headers=signed("bot-a", body))
    assert r.status_code == 413 and r.json()["detail"]["reason"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 10_000

    r = await client.post("/v1/messages", content=chunks(), headers={"x-bot-id": "bot-a"})
    assert r.status_code == 413


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for path in (
        "/v1/messages",
        "/v1/requests",
        "/v1/requests/{request_id}/cancel",
        "/l/o/{token}",
    ):
        assert path in doc["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# ------------------------------------------------------------------ classifier (issue 15)


async def test_the_seed_story_in_traditional_script_is_critical_through_the_api(
    client: httpx.AsyncClient,
) -> None:
    text = "我老婆懷孕八個月，肚子一陣一陣疼，誰能開車送我們去醫院"
    r = await bot_post(client, "/v1/messages", message(text, "m-seed-trad"))
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["urgency"] == "critical" and out["emergency_number"] == "120"
    assert out["advise_emergency_call"] and "120" in out["reply_text"]


async def test_a_long_digit_run_is_answered_and_the_api_stays_responsive(
    client: httpx.AsyncClient,
) -> None:
    # 2,000 digits (the API's limit), classified in a thread; health answers while it runs.
    # No clock here: that no pattern can backtrack catastrophically is checked without one
    # (every repeat bounded: tests/unit/test_classify_bounds.py, every compiled pattern of
    # the classifier: tests/unit/test_classify_patterns_everywhere.py). A match that never
    # ends holds the GIL: neither answer would come, and the client's own timeout (30 s)
    # fails the test instead of hanging it.
    digits = message("1" * 2000, "m-digits")
    r, health = await asyncio.gather(
        bot_post(client, "/v1/messages", digits), client.get("/healthz")
    )
    assert r.status_code == 200 and r.json()["is_request"] is False
    assert health.status_code == 200
