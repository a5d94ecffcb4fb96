"""The README's dev path: an unconfigured install (no bots file, default link secret, as
`make run`) with the demo district loaded takes each platform's sample callback
(`python -m dispatcher platform-sample … --send`) and dispatches it to demo helpers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
async def dev_api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    env = {k: v for k, v in stack.env().items() if k != "DISPATCH_BOTS_FILE"}
    api = stack.spawn("api", "api", env=env)
    await stack.wait_ready(api)
    load = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dispatcher", "demo", "--load-only", "--api", stack.api_url],
        env=env,
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
    )
    assert load.returncode == 0, load.stderr[-2000:]
    yield stack


@pytest.mark.parametrize(
    ("platform", "group"),
    [
        ("wecom", "demo-zhonghua-c11-b3"),
        ("dingtalk", "demo-kaiyuan-c21"),
        ("feishu", "demo-lujiang-g2"),
    ],
)
async def test_sample_dispatches_on_the_demo_district(
    dev_api: LocalStack, platform: str, group: str
) -> None:
    sample = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "dispatcher",
            "platform-sample",
            platform,
            "3号楼有老人摔倒了起不来，快来人帮忙",
            "--group",
            group,
            "--api",
            dev_api.api_url,
            "--send",
        ],
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
    )
    assert sample.returncode == 0, sample.stdout + sample.stderr
    status, _, body = sample.stdout.partition(" ")
    assert status == "200" and '"is_request":true' in body.replace(" ", ""), sample.stdout
    conn = await asyncpg.connect(dev_api.pg_dsn)
    try:
        offers = await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) FROM event_log e JOIN api_intake i USING (request_id)"
                " WHERE e.type = 'offers_sent' AND i.bot_id = $1",
                f"dev-{platform}",
            ),
            what=f"offers to demo helpers from the {platform} sample",
        )
        assert offers >= 1
    finally:
        await conn.close()
