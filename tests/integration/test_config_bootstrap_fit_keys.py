"""Production on the real stack, attacked with the repository's example bots file: the API
refuses to start before anything listens, so a request forged with the key the example
carried finds no API. With a strong bots file and a public https base URL it starts, seeds
the store, and its bot signs in, while the key the repository once published is refused."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from dispatcher.config.secrets import new_secret
from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import LocalStack
from tests.integration.test_config_bootstrap import bots_file, chat, production
from tests.security.test_startup_seed_secrets import PUBLISHED_KEY

EXAMPLE = REPO_ROOT / "deploy/compose/bots.example.json"


async def test_production_starts_only_with_keys_fit_for_it(stack: LocalStack) -> None:
    stack.extra_env["DISPATCH_PUBLIC_BASE_URL"] = "https://dispatch.neighbours.cn"
    refused = stack.spawn("api-example", "api", env=production(stack, str(EXAMPLE)))
    assert await asyncio.to_thread(refused.popen.wait, 60) == 78
    assert "DISPATCH_BOTS_FILE[wecom-siming-xian].secrets" in refused.log_tail()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        with pytest.raises(httpx.ConnectError):  # the forged request: nothing listens
            await chat(client, "wecom-siming-xian", PUBLISHED_KEY)

        secret = new_secret()
        strong = production(stack, bots_file(stack, "strong.json", "prod-bot", secret))
        await stack.wait_ready(stack.spawn("api", "api", env=strong))
        assert await chat(client, "prod-bot", secret) == 200
        assert await chat(client, "prod-bot", PUBLISHED_KEY) == 401
