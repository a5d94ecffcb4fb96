"""The API sends a help request's command to Kafka while its intake statement runs, when the
request id derives from the report's own key (README "The API's edge statement"); the 202
still waits for both.

Shown on the real stack by holding the statement up for real: this test takes the merge
key's advisory lock in PostgreSQL (the one `api_intake_submit` takes), so a report at that
building waits inside its statement until the lock is released. Its command is in Kafka
meanwhile, and no 202 has come. A report whose request id does not derive from its key (an
Idempotency-Key header beside a chat message id) waits for the statement first, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from dispatcher.testing.stack import LocalStack
from tests.integration.test_merge_resend import commands_in, submitted
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.waiting import eventually

COMMUNITY = "early"
KEY = f"{COMMUNITY}|c1|b3|hospital_transport"  # builders.request's building and category


async def test_the_command_is_in_kafka_while_the_statement_waits(stack: LocalStack) -> None:
    async with held_statements(stack) as post:
        early = await post({}, lands=True)
        assert early.sent == [early.command] and early.command["body"]["merge_key"] == KEY
        assert early.answer["merged"] is False
        # A header key beside a message id: after the statement, as before.
        late = await post({"Idempotency-Key": "k-early-1"}, lands=False)
        assert late.sent == [] and late.answer["merged"] is False
        assert late.command["body"]["merge_key"] == KEY


@dataclass(frozen=True)
class Held:
    sent: list[dict[str, Any]]  # the commands in Kafka while the statement waited
    answer: dict[str, Any]  # the 202's
    command: dict[str, Any]  # the report's command, in Kafka once answered


Post = Callable[..., Awaitable[Held]]


@contextlib.asynccontextmanager
async def held_statements(stack: LocalStack) -> AsyncIterator[Post]:
    """`post(headers, lands=...)`: a report at KEY's building posted while this test holds
    the merge key's advisory lock, so its statement waits inside PostgreSQL; returns the
    commands in Kafka while it waited (once one lands, or after 2 s if none should), its
    202's answer once the lock is released, and its command. Each report is then recorded
    closed in the read model, as the worker's record agent would, so the next one is not
    merged into it."""
    stack.extra_env["DISPATCH_RECONCILE_ENABLED"] = "false"  # only the API's own sends count
    stack.bot_communities.add(COMMUNITY)
    await stack.start_api()
    topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
    lock = await asyncpg.connect(stack.pg_dsn)

    async def post(headers: dict[str, str], *, lands: bool) -> Held:
        before = len(await commands_in(stack, topic))

        async def since() -> list[dict[str, Any]]:
            return (await commands_in(stack, topic))[before:]

        async def held() -> bool:  # the statement itself waits for this lock
            return bool(
                await lock.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
            )

        await lock.execute("SELECT pg_advisory_lock(hashtext($1))", KEY)
        posted = asyncio.ensure_future(
            bot.post("/v1/requests", builders.request(COMMUNITY), **headers)
        )
        try:
            await eventually(held, timeout=20, what="the statement waiting for the lock")
            if lands:
                sent = await eventually(since, timeout=20, what="the command in Kafka")
            else:
                await asyncio.sleep(2)  # time enough for a send beside the statement to land
                sent = await since()
            assert not posted.done()  # no 202 before the statement
        finally:
            await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", KEY)
        answer = await posted
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["request_id"]
        [command] = submitted(await commands_in(stack, topic), request_id)
        await lock.execute(
            "INSERT INTO requests (request_id, community_id, category, urgency,"
            " helpers_needed, status, opened_at, closed_at, last_event_id)"
            " VALUES ($1, $2, 'hospital_transport', 'critical', 1, 'cancelled',"
            " now(), now(), 'e')",
            request_id,
            COMMUNITY,
        )
        return Held(sent, answer.json(), command)

    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
            bot = BotClient(client)
            yield post
    finally:
        await lock.close()
