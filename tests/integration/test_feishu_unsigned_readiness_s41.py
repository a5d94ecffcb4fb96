"""Session 41, on the real stack: a production API whose live store (Kafka's `config` topic)
holds a Feishu bot stored without an Encrypt Key, before the write path refused it (d576326).

The bot is not served (404 `unknown_bot`): its groups' emergencies get no call-now reply and
nobody is dispatched. So it is shown where operators look: `/readyz` lists its id in
`unserved_bots` (never its token), the API's gauge `dispatch_config_unserved_bots` counts it
(alert DispatchConfigUnservedBots), an error at load names it. It never makes the API
unready: d553404 answered 503 until keyed, and every pod started later (a crash restart, a
drained node, a scale-up) reads the same store, so after a node failure no pod served any
community's intake, emergencies included, for one community's bot."""

from __future__ import annotations

import asyncio
import secrets
import sys
from typing import Any

import httpx

from dispatcher.config.follower import ConfigWriter
from dispatcher.testing.stack import LocalStack, Proc
from schemas.config import ConfigKind
from tests.integration.test_config_bootstrap import STAFF_TOKEN, production
from tests.integration.test_feishu_unsigned_store_s41 import COMMUNITY, feishu_bot
from tests.support import platform_callbacks as pc
from tests.support.config_records import old_record

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


async def unserved_gauge(client: httpx.AsyncClient, env: dict[str, str]) -> float:
    metrics = {"Authorization": f"Bearer {env['DISPATCH_METRICS_TOKEN']}"}
    r = await client.get("/metrics", headers=metrics)
    assert r.status_code == 200, r.text
    (line,) = [x for x in r.text.splitlines() if x.startswith("dispatch_config_unserved_bots ")]
    return float(line.split()[1])


async def config_check(stack: LocalStack) -> tuple[int, str]:
    """`python -m dispatcher config check` against the API: the exit code and its output
    (session 42: a deploy job fails on it; `/readyz` alone stays 200)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "dispatcher", "config", "check", "--api", stack.api_url),
        env=stack.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def start(stack: LocalStack, env: dict[str, str]) -> Proc:
    """Ready (200) with the store loaded: what the kubelet waits for."""
    proc = stack.spawn("api", "api", env=env)
    await stack.wait_ready(proc, timeout=60)
    return proc


async def test_an_api_on_a_store_with_an_unsigned_feishu_bot_is_ready_and_shows_it(
    stack: LocalStack,
) -> None:
    keyed = feishu_bot("fs-keyed", pc.FEISHU_TOKEN, encrypt_key=pc.FEISHU_ENCRYPT_KEY)
    await store(stack, feishu_bot("fs-open", pc.FEISHU_TOKEN), keyed)
    env = production(stack, None)
    proc = await start(stack, env)

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        # Ready, every check ok: the bot is listed and counted, not served, logged by id.
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["ready"] is True and answer["checks"]["config"] == "ok"
        assert answer["unserved_bots"] == ["fs-open"]
        assert pc.FEISHU_TOKEN not in r.text  # named, never a secret
        assert await unserved_gauge(client, env) == 1
        assert "config bot/fs-open" in proc.log_tail(200)
        signed = pc.feishu_callback(pc.feishu_event("大家早上好", "om_s41_ready"))
        r = await client.post(
            "/v1/platforms/feishu/fs-open", headers=signed.headers, content=signed.body
        )
        assert r.status_code == 404 and r.json()["detail"]["reason"] == "unknown_bot", r.text
        code, out = await config_check(stack)
        assert code == 1, out  # a job fails on it, naming the bot, never its token
        assert "fs-open" in out and "fs-keyed" not in out and pc.FEISHU_TOKEN not in out

        # Staff key it through the API: served, no longer listed, the gauge back to 0.
        fixed = feishu_bot("fs-open", pc.FEISHU_TOKEN, encrypt_key=pc.FEISHU_ENCRYPT_KEY)
        r = await client.put("/v1/admin/config/bots/fs-open", headers=STAFF, json=fixed)
        assert r.status_code == 200, r.text
        answer = (await client.get("/readyz")).json()
        assert answer["ready"] is True and "unserved_bots" not in answer
        assert await unserved_gauge(client, env) == 0
        signed = pc.feishu_callback(pc.feishu_event("大家早上好", "om_s41_keyed"))
        r = await client.post(
            "/v1/platforms/feishu/fs-open", headers=signed.headers, content=signed.body
        )
        assert r.status_code == 200, r.text
        code, out = await config_check(stack)
        assert code == 0 and "every stored bot is served" in out, out

        # One written later (an older API during a rollout), then the pod restarts (OOM, a
        # drained node): the new process turns ready on that store, listing and counting it.
        await store(stack, feishu_bot("fs-late", LATE_TOKEN))
        stack.procs.remove(proc)
        proc.kill()
        await start(stack, env)
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["unserved_bots"] == ["fs-late"]
        assert LATE_TOKEN not in r.text
        assert await unserved_gauge(client, env) == 1
