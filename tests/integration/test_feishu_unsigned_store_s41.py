"""Session 41, on the real stack (Kafka's `config` topic, a production API, the config CLI):
a Feishu bot without an Encrypt Key, whose callbacks Feishu signs not at all, in the store.

Before: production stored one through the staff API and `config apply`, and served one
stored earlier, so a plain callback forged from one seen body was read. Now the write is
refused (422 `unsigned_platform`, the CLI exits 1 saying so, by bot and field, never the
token), and one stored before is not served (404 `unknown_bot`) while staff still see it;
keyed through the API, it is served again (tests/unit/test_feishu_unsigned_store_s41.py
has the detail)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx

from dispatcher.config.follower import ConfigWriter
from dispatcher.testing.stack import LocalStack
from schemas.config import ConfigKind
from tests.integration.test_config_bootstrap import STAFF_TOKEN, production, start
from tests.support import platform_callbacks as pc
from tests.support.config_cli import config_cli
from tests.support.config_records import old_record
from tests.support.feishu_unsigned import plain_callback

STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}
COMMUNITY = "prod-c"
NEW_TOKEN = "vt-" + secrets.token_urlsafe(24)  # a new bot's Verification Token


def feishu_bot(bot_id: str, token: str, **platform: str) -> dict[str, Any]:
    feishu = {"kind": "feishu", "verification_token": token} | platform
    group = {"community_id": COMMUNITY}
    return {
        "bot_id": bot_id,
        "platform": feishu,
        "communities": [COMMUNITY],
        "groups": {"oc_group1": group},
    }


async def test_production_neither_stores_nor_serves_a_feishu_bot_without_encrypt_key(
    stack: LocalStack,
) -> None:
    writer = ConfigWriter(stack.settings())
    try:  # as the API wrote it before the write path refused it
        stored = feishu_bot("fs-stored", pc.FEISHU_TOKEN)
        await writer.write(old_record(ConfigKind.BOT, "fs-stored", stored, (COMMUNITY,)))
    finally:
        await writer.close()
    await start(stack, production(stack, None))

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        # Stored before: staff see it, its forged-from-one-body callbacks are not read.
        shown = (await client.get("/v1/admin/config", headers=STAFF)).json()
        assert [b["bot_id"] for b in shown["bots"]] == ["fs-stored"]
        forged = plain_callback(pc.feishu_event("不用了，谢谢", "om_s41_forged"))
        r = await client.post("/v1/platforms/feishu/fs-stored", content=forged.body)
        assert r.status_code == 404, r.text
        assert r.json()["detail"]["reason"] == "unknown_bot"

        # The staff API refuses to store another, naming bot and field, not the token.
        r = await client.put(
            "/v1/admin/config/bots/fs-new", headers=STAFF, json=feishu_bot("fs-new", NEW_TOKEN)
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"]["reason"] == "unsigned_platform"
        assert "bot/fs-new: platform.encrypt_key is missing" in r.json()["detail"]["message"]
        assert NEW_TOKEN not in r.text

        # So does `config apply` (the CLI, through the API).
        doc = {"community_id": COMMUNITY, "display_name": "图强社区"}
        doc["bots"] = [feishu_bot("fs-cli", NEW_TOKEN)]
        path = stack.root / "s41-unsigned-community.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        done = config_cli(stack, "apply", str(path), "--token", STAFF_TOKEN, ok=False)
        assert "unsigned_platform" in done.stderr
        assert "bot/fs-cli: platform.encrypt_key is missing" in done.stderr
        assert NEW_TOKEN not in done.stdout + done.stderr
        shown = (await client.get("/v1/admin/config", headers=STAFF)).json()
        assert [b["bot_id"] for b in shown["bots"]] == ["fs-stored"]  # nothing else stored

        # Given its Encrypt Key, the stored bot is served: a signed callback is read.
        keyed = feishu_bot("fs-stored", pc.FEISHU_TOKEN, encrypt_key=pc.FEISHU_ENCRYPT_KEY)
        r = await client.put("/v1/admin/config/bots/fs-stored", headers=STAFF, json=keyed)
        assert r.status_code == 200, r.text
        signed = pc.feishu_callback(pc.feishu_event("大家早上好", "om_s41_signed"))
        r = await client.post(
            "/v1/platforms/feishu/fs-stored", headers=signed.headers, content=signed.body
        )
        assert r.status_code == 200, r.text
