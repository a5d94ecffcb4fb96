"""Two findings on the Feishu callback, through the real API and worker (real Kafka and
PostgreSQL); every callback is built as Feishu builds it (tests/support/platform_callbacks).

1. A cancel word beside an emergency: the requester of an open errand writes
   "不用了，我妈突然晕倒了，没有呼吸了，快来人！". That is a new emergency - the group is told
   to call 120 and neighbours are offered it - never a cancel of the errand. Their plain
   "不用了，谢谢" afterwards still cancels the errand (not the emergency: "全部取消" does).
2. The padding oracle: unsigned `{"encrypt": …}` bodies (only Feishu's URL check comes
   unsigned) all get one answer however their decryption fails, and their own rate limit
   is taken before anything is decrypted; Feishu's signed deliveries are unaffected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from Crypto.Cipher import AES

from dispatcher.api.platforms.routes import UNVERIFIED_BURST
from dispatcher.groupchat import texts
from dispatcher.testing.stack import LocalStack
from tests.integration.test_platform_feishu import Feishu
from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.platform_callbacks import Callback
from tests.support.waiting import eventually

ERRAND = "谁能帮我去药店买点感冒药？我在家走不开"
EMERGENCY = "不用了，我妈突然晕倒了，没有呼吸了，快来人！"


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, Feishu):
        yield running


async def events_of(run: flow.Running, request_id: str) -> list[str]:
    conn = await asyncpg.connect(run.stack.pg_dsn)
    try:
        rows = await conn.fetch(
            "SELECT type FROM event_log WHERE request_id = $1 ORDER BY seq", request_id
        )
    finally:
        await conn.close()
    return [str(r["type"]) for r in rows]


async def test_an_emergency_beside_a_cancel_word_is_dispatched_not_cancelled(
    run: flow.Running,
) -> None:
    p, group = run.platform, "g-main"
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, p.message(ERRAND, f"m-{uuid.uuid4().hex[:12]}", group))
        assert r.status_code == 200 and r.json()["is_request"], r.text
        errand = r.json()["request_id"]
        await eventually(lambda: events_of(run, errand), what="the errand recorded")

        r = await run.send(client, p.message(EMERGENCY, f"m-{uuid.uuid4().hex[:12]}", group))
        assert r.status_code == 200, r.text
        out = r.json()
        assert "cancelled" not in out, out
        assert out["is_request"] and out["advise_emergency_call"] and out["urgency"] == "critical"
        assert out["emergency_number"] == "120" and "120" in out["reply_text"]
        emergency = out["request_id"]
        assert emergency != errand
        await flow.wait_for_text(p, group, out["reply_text"])
        # Neighbours are offered the emergency; the errand is still open.
        await run.receiver.wait_for(
            lambda: bool(flow.offers_for(run.receiver, emergency)), timeout=30
        )
        assert "request_cancelled" not in await events_of(run, errand)

        # A plain "不用了，谢谢" is still a cancel: of every open request of the sender's in
        # the group (since session 41; before, of the latest only), but with more than one
        # open not of a critical one, the newest neither (session 41 review of 791e99b): the
        # errand ends, the emergency stays and the group is told "全部取消" ends it.
        r = await run.send(client, p.message("不用了，谢谢", f"m-{uuid.uuid4().hex[:12]}", group))
        assert r.status_code == 200, r.text
        told = texts.spared(1)
        assert r.json() == {
            "is_request": False,
            "cancelled": errand,
            "still_open": [emergency],
            "reply_text": told,
        }
        await flow.wait_for_text(p, group, told)

        async def cancelled(x: str) -> bool:
            return "request_cancelled" in await events_of(run, x)

        assert await eventually(lambda: cancelled(errand), what="the errand cancelled")
        assert not await cancelled(emergency)
        r = await run.send(client, p.message("全部取消", f"m-{uuid.uuid4().hex[:12]}", group))
        assert r.status_code == 200, r.text
        assert r.json()["cancelled"] == emergency, r.text
        assert await eventually(lambda: cancelled(emergency), what="the emergency cancelled")


def unsigned(ciphertext: bytes) -> Callback:
    return Callback(body=json.dumps({"encrypt": base64.b64encode(ciphertext).decode()}).encode())


def encrypted(plain: bytes) -> bytes:
    iv = os.urandom(16)
    pad = 16 - len(plain) % 16
    key = hashlib.sha256(pc.FEISHU_ENCRYPT_KEY.encode()).digest()
    return iv + AES.new(key, AES.MODE_CBC, iv).encrypt(plain + bytes([pad]) * pad)


async def test_unsigned_bodies_answer_alike_and_are_rate_limited(run: flow.Running) -> None:
    p = run.platform
    check = {"challenge": "ch-oracle", "token": pc.FEISHU_TOKEN, "type": "url_verification"}
    attack = [
        os.urandom(48),  # bad padding
        encrypted(b"\xff\xfe"),  # padding right, not UTF-8
        encrypted(b"not json"),  # UTF-8, not JSON
        encrypted(b'{"token": "guess"}'),  # JSON, not our token
        os.urandom(48),
        os.urandom(48),
    ]
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        # Feishu's URL check may come unsigned: it still works.
        r = await run.send(client, unsigned(encrypted(json.dumps(check).encode())))
        assert r.status_code == 200 and r.json() == {"challenge": "ch-oracle"}
        answers = []
        for ciphertext in attack[: int(UNVERIFIED_BURST) - 1]:
            r = await run.send(client, unsigned(ciphertext))
            answers.append((r.status_code, r.content))
        assert len(set(answers)) == 1 and answers[0][0] == 400, answers
        for ciphertext in attack[int(UNVERIFIED_BURST) - 1 :]:
            r = await run.send(client, unsigned(ciphertext))
            assert r.status_code == 429 and r.json()["detail"]["reason"] == "rate_limited"
        # Feishu's signed deliveries have their own budget: a message still goes through.
        cb = p.message(flow.pipe(12), f"m-{uuid.uuid4().hex[:12]}", "g-extra")
        r = await run.send(client, cb)
        assert r.status_code == 200 and r.json()["is_request"], r.text
