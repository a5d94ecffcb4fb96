"""Production: environment/file configuration only seeds an empty store (issue 14.1).

An API in production mode (strong secrets, no dev layer) with a bots file seeds the store
from it once loaded, through the one write path; restarted with another bots file, the
store is no longer empty, so that file is ignored: its bot is refused, the seeded bot still
signs in. Without any configuration a production API accepts no bot."""

from __future__ import annotations

import json
import secrets
import uuid

import httpx

from dispatcher.config.secrets import new_secret
from dispatcher.testing.stack import LocalStack
from tests.support.bot import bound_payload, sign

STAFF_TOKEN = secrets.token_hex(32)
FIRST, SECOND = new_secret(), new_secret()


def production(stack: LocalStack, bots_file: str | None) -> dict[str, str]:
    env = {
        "DISPATCH_MODE": "production",
        "DISPATCH_LINK_SECRET": secrets.token_hex(32),
        "DISPATCH_STAFF_TOKEN": STAFF_TOKEN,
        "DISPATCH_HELPER_ID_KEY": secrets.token_hex(32),
        "DISPATCH_METRICS_TOKEN": secrets.token_hex(32),
        "DISPATCH_CONTACT_KEY": secrets.token_hex(32),
        "DISPATCH_PUBLIC_BASE_URL": "https://dispatch.neighbours.cn",
    }
    if bots_file is not None:
        env["DISPATCH_BOTS_FILE"] = bots_file
    return (
        stack.env(**env)
        if bots_file is not None
        else {k: v for k, v in stack.env(**env).items() if k != "DISPATCH_BOTS_FILE"}
    )


def bots_file(stack: LocalStack, name: str, bot_id: str, secret: str) -> str:
    path = stack.root / name
    path.write_text(
        json.dumps(
            {
                "bots": [
                    {
                        "bot_id": bot_id,
                        "secrets": [secret],
                        "communities": ["prod-c"],
                        "groups": {"g": {"community_id": "prod-c"}},
                    }
                ]
            }
        )
    )
    return str(path)


async def chat(client: httpx.AsyncClient, bot_id: str, secret: str) -> int:
    body = json.dumps(
        {
            "group_id": "g",
            "message_id": uuid.uuid4().hex,
            "sender": {"id": "u"},
            "text": "大家早上好",
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-bot-id": bot_id,
        **sign(bound_payload("POST", "/v1/messages", body), secret=secret),
    }
    return (await client.post("/v1/messages", content=body, headers=headers)).status_code


async def start(stack: LocalStack, env: dict[str, str]) -> None:
    proc = stack.spawn("api", "api", env=env)
    await stack.wait_ready(proc)


async def test_the_environment_seeds_an_empty_store_once(stack: LocalStack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        await start(stack, production(stack, None))
        assert await chat(client, "prod-bot", FIRST) == 401  # nothing configured: no bot
        stack.procs.pop().stop()

        await start(stack, production(stack, bots_file(stack, "b1.json", "prod-bot", FIRST)))

        # Ready only once seeded: the first call after readiness already signs in.
        assert await chat(client, "prod-bot", FIRST) == 200
        shown = (
            await client.get("/v1/admin/config", headers={"Authorization": f"Bearer {STAFF_TOKEN}"})
        ).json()
        assert [b["bot_id"] for b in shown["bots"]] == ["prod-bot"]
        assert FIRST not in json.dumps(shown)
        stack.procs.pop().stop()

        await start(stack, production(stack, bots_file(stack, "b2.json", "other-bot", SECOND)))
        assert await chat(client, "other-bot", SECOND) == 401  # the store is not empty
        assert await chat(client, "prod-bot", FIRST) == 200
