"""Half an emoji or a NUL in a JSON body, through the real API and worker: a 422 naming the
field, never a 500, never what was sent quoted back, nothing written.

- A Node bot that cuts a chat message with `text.slice(0, 2000)` can end it on half an
  emoji: JSON's `"\\ud83d"`, a lone surrogate. FastAPI's own 422 quoted the refused value
  back (`input`), and a lone surrogate has no UTF-8: the answer failed its own encoding, a
  500, on every declared JSON body (the chat intake, a bot's cancel, the staff actions).
  The same `input` echoed phone numbers back in any 422.
- The staff actions' bodies (refer, resolve, cancel, call-team) took NUL (U+0000): a
  department or team id holding one reached the staff audit row, which PostgreSQL refused
  (text cannot hold NUL): a 500.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.api.app import create_app
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from tests.support.bot import BOT_ID, bound_payload, sign
from tests.support.staff import DISTRICT, bearer, recorded_request, write_staff_file

COMMUNITY = "ub-a"
STAFF = bearer(DISTRICT)  # district-wide staff
PHONE = "13912345678"
HALF_EMOJI = "3号楼有人晕倒了，没有呼吸了 \ud83d"  # 😀 cut in half, as JS `slice` does
BOT_TAGS = {"bots", "requests"}  # the signed bot routes; every other JSON body is staff's


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.bot_communities = {COMMUNITY}
    write_staff_file(stack, {})
    stack.start_worker()  # records the requests the staff act on
    await stack.start_api()
    yield stack


async def _post(
    client: httpx.AsyncClient, path: str, doc: Any, *, bot: bool, method: str = "POST"
) -> httpx.Response:
    body = json.dumps(doc).encode()  # ASCII JSON: "\ud83d" and "\u0000" as escapes
    headers = {"content-type": "application/json"}
    if bot:
        headers |= sign(bound_payload(method, path, body)) | {"x-bot-id": BOT_ID}
    else:
        headers |= STAFF
    return await client.request(method, path, content=body, headers=headers)


def _refused(r: httpx.Response, field: str, why: str) -> None:
    """A 422 in FastAPI's shape, naming the field; nothing it was sent quoted back."""
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert all(set(e) == {"type", "loc", "msg"} for e in errors), errors
    assert any(e["loc"][-1] == field and why in e["msg"] for e in errors), errors
    for sent in ("晕倒", PHONE, "居委会", "\\ud83d", "\ufffd"):
        assert sent not in r.text, r.text


async def _nothing_written(db: asyncpg.Connection, client: httpx.AsyncClient, rid: str) -> None:
    assert await db.fetchval("SELECT count(*) FROM staff_actions WHERE request_id = $1", rid) == 0
    r = await client.get(f"/v1/requests/{rid}", headers=STAFF)
    assert r.json()["status"] == "open", r.text


async def test_half_an_emoji_in_a_bot_s_or_a_staff_member_s_text_is_a_422(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, COMMUNITY)
    sender = {"id": "wx-1", "name": "王女士", "phone": PHONE}
    message = {"group_id": "g1", "message_id": "m1", "sender": sender, "text": HALF_EMOJI}
    cases: list[tuple[bool, str, dict[str, Any], str, str]] = [
        (True, "/v1/messages", message, "text", "valid string"),
        (
            True,
            f"/v1/requests/{rid}/cancel",
            {"request_id": rid, "reason": HALF_EMOJI},
            "reason",
            "valid string",
        ),
        (
            True,
            f"/v1/requests/{rid}/resolve",
            {"request_id": rid, "note": HALF_EMOJI},
            "note",
            "valid string",
        ),
        (
            False,
            f"/ops/v1/requests/{rid}/refer",
            {"to": "department", "department": HALF_EMOJI},
            "department",
            "valid string",
        ),
        (
            False,
            f"/ops/v1/requests/{rid}/call-team",
            {"team_id": HALF_EMOJI},
            "team_id",
            "valid string",
        ),
        (False, f"/ops/v1/requests/{rid}/resolve", {"note": HALF_EMOJI}, "note", "valid string"),
        (False, f"/ops/v1/requests/{rid}/cancel", {"note": HALF_EMOJI}, "note", "valid string"),
    ]
    for bot, path, doc, field, why in cases:
        _refused(await _post(client, path, doc, bot=bot), field, why)
    # The structured intake, parsed by hand: the same 422, the JSON refused whole.
    r = await _post(
        client,
        "/v1/requests",
        {"place": {"community_id": COMMUNITY}, "text": HALF_EMOJI, "phone": PHONE},
        bot=True,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid", r.text
    assert "晕倒" not in r.text and PHONE not in r.text
    await _nothing_written(db, client, rid)


async def test_nul_in_a_staff_action_is_a_422_and_nothing_is_written(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, COMMUNITY)
    nul = "must not contain the NUL character"
    for action, doc, field in (
        ("refer", {"to": "department", "department": "居委会\u0000"}, "department"),
        ("refer", {"to": "110", "note": "已报警\u0000"}, "note"),
        ("call-team", {"team_id": "帮帮团\u0000"}, "team_id"),
        ("resolve", {"note": "好了\u0000"}, "note"),
        ("cancel", {"note": "不用了\u0000"}, "note"),
    ):
        r = await _post(client, f"/ops/v1/requests/{rid}/{action}", doc, bot=False)
        _refused(r, field, nul)
    await _nothing_written(db, client, rid)
    # The same action without it goes through, audited.
    r = await _post(
        client,
        f"/ops/v1/requests/{rid}/refer",
        {"to": "department", "department": " 居委会 "},
        bot=False,
    )
    assert r.status_code == 202, r.text
    row = await db.fetchrow("SELECT action, detail FROM staff_actions WHERE request_id = $1", rid)
    assert row is not None and (row["action"], row["detail"]) == ("refer", "department:居委会")


def _json_routes() -> list[tuple[str, str, bool]]:
    """Every operation of the API's own document that takes a JSON body: (method, path with
    its parameters filled in, signed by the bot)."""
    routes = []
    for path, operations in create_app(Settings()).openapi()["paths"].items():
        for method, op in operations.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                filled = path
                for part in path.split("/"):
                    if part.startswith("{"):
                        filled = filled.replace(part, "x1")
                routes.append((method.upper(), filled, bool(BOT_TAGS & set(op["tags"]))))
    return routes


async def test_every_json_body_refuses_half_an_emoji_with_a_4xx(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    routes = _json_routes()
    assert len(routes) >= 14, routes  # the bots', staff actions', admin and configuration
    for method, path, bot in routes:
        # As the whole body, in a key and in a value: each route's model refuses one. (A key
        # is a name, not a value: a refused one is named in `loc`, its half emoji replaced.)
        for doc in (HALF_EMOJI, {"备注\ud83d": PHONE}, {"text": HALF_EMOJI, "phone": PHONE}):
            r = await _post(client, path, doc, bot=bot, method=method)
            assert 400 <= r.status_code < 500, (method, path, doc, r.status_code, r.text)
            detail = r.json()["detail"]
            if isinstance(detail, dict):  # the route's own refusal
                assert detail["reason"], (path, r.text)
            else:  # the 422 of field errors: each says what and where
                assert all(e["type"] and e["loc"] for e in detail), (path, r.text)
            assert "晕倒" not in r.text and PHONE not in r.text, (path, r.text)
            assert "\\ud83d" not in r.text, (path, r.text)
