"""Session 41, on the real stack: a production API whose live store (Kafka's `config` topic)
holds a Feishu bot stored without an Encrypt Key, before the write path refused it (d576326).

Before: the API turned ready and silently did not serve the bot (404 `unknown_bot`): its
groups' emergencies got no call-now reply and nobody was dispatched, and the only signal
was an error logged at load. The start-up check cannot see it (the store is read after
start), so now readiness does: `/readyz` answers 503 naming the bot (never its token) until
staff key it, so a deploy's probe stops it before it serves traffic; keyed, the same process
turns ready. A pod once ready stays ready for one written later (only an older API, during a
rollout, could write it), and `/readyz` still names it."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from dispatcher.config.follower import ConfigWriter
from dispatcher.testing.stack import LocalStack
from schemas.config import ConfigKind
from tests.integration.test_config_bootstrap import STAFF_TOKEN, production
from tests.integration.test_feishu_unsigned_store_s41 import COMMUNITY, feishu_bot
from tests.support import platform_callbacks as pc
from tests.support.config_records import old_record
from tests.support.unserved_bots import unready_once_loaded

STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}
LATE_TOKEN = "vt-" + secrets.token_urlsafe(24)


async def store(stack: LocalStack, *bots: dict[str, Any]) -> None:
    """As an API wrote them before the write path refused a Feishu bot without its key."""
    writer = ConfigWriter(stack.settings())
    try:
        for bot in bots:
            record = old_record(ConfigKind.BOT, bot["bot_id"], bot, (COMMUNITY,))
            await writer.write(record)
    finally:
        await writer.close()


async def test_a_production_api_holding_an_unsigned_feishu_bot_is_not_ready_until_keyed(
    stack: LocalStack,
) -> None:
    keyed = feishu_bot("fs-keyed", pc.FEISHU_TOKEN, encrypt_key=pc.FEISHU_ENCRYPT_KEY)
    await store(stack, feishu_bot("fs-open", pc.FEISHU_TOKEN), keyed)
    proc = stack.spawn("api", "api", env=production(stack, None))

    # Loaded, Kafka and PostgreSQL answering: not ready, naming the bot and what to set.
    r = await unready_once_loaded(stack, proc)
    assert r.status_code == 503, r.text
    answer = r.json()
    assert answer["ready"] is False
    why = answer["checks"]["config"]
    assert why.startswith("unsigned_platform: "), answer
    assert "fs-open" in why and "fs-keyed" not in why
    assert "platform.encrypt_key" in why and "Encrypt Key" in why
    assert answer["unserved_bots"] == ["fs-open"]
    assert pc.FEISHU_TOKEN not in r.text  # named, never a secret
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        await asyncio.sleep(2)  # not a moment's state: it stays so
        assert (await client.get("/readyz")).status_code == 503

        # Staff key it through the API (in a rollout: through the pods still serving).
        fixed = feishu_bot("fs-open", pc.FEISHU_TOKEN, encrypt_key=pc.FEISHU_ENCRYPT_KEY)
        r = await client.put("/v1/admin/config/bots/fs-open", headers=STAFF, json=fixed)
        assert r.status_code == 200, r.text
        await stack.wait_ready(proc, timeout=20)  # the same process, no restart
        answer = (await client.get("/readyz")).json()
        assert answer["ready"] is True and "unserved_bots" not in answer
        signed = pc.feishu_callback(pc.feishu_event("大家早上好", "om_s41_ready"))
        r = await client.post(
            "/v1/platforms/feishu/fs-open", headers=signed.headers, content=signed.body
        )
        assert r.status_code == 200, r.text

        # One written later (an older API during a rollout) leaves a serving pod ready, or
        # every pod would leave at once; /readyz still names it, and it is not served.
        await store(stack, feishu_bot("fs-late", LATE_TOKEN))
        for _ in range(80):
            r = await client.get("/readyz")
            if r.json().get("unserved_bots"):
                break
            await asyncio.sleep(0.25)
        assert r.status_code == 200, r.text
        assert r.json()["unserved_bots"] == ["fs-late"]
        assert LATE_TOKEN not in r.text
