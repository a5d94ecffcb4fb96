"""A merged report's `ReportRepeated` outlives an API crash between the merge and Kafka's
ack (session 41): "nothing acknowledged is lost".

Before, the API built the command only after its intake statement had merged the report
(`reports + 1` committed) and kept it nowhere: an API that died, or a Kafka that refused,
before the send lost it, and the request the resident re-posted ("还是没人来…") waited out
every neighbours' rung instead of climbing to the whistle. Now the statement stores it with
the merge (`api_repeat_reports`, the outbox), and the unrecorded sweeper sends one never
queued, with the same id and time.

The crash is real (`crash_mid_send`): the repeat goes to an API whose commands topic does not
exist, so its send waits for Kafka; once the merge is committed that API is SIGKILLed and
started again, the sweeper on. The ladder runs five times faster
(`DISPATCH_PLAN_TIME_SCALE`). Real API, worker, PostgreSQL and Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.integration.test_claims_outlive_api_crash import SWEEPER_OFF, SWEEPER_ON, crash_mid_send
from tests.integration.test_merge_resend import commands_in
from tests.integration.test_repeat_report_climbs_s40 import (
    SCALE,
    after_the_answer_time,
    offered,
    whistled,
)
from tests.support.bot import BotClient
from tests.support.merged_reports import again
from tests.support.neighbours_s39 import started_with
from tests.support.repeat_outbox import queued_repeat

COMMUNITY = "s41-repeat-outbox"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = str(SCALE)
    stack.extra_env.update(SWEEPER_OFF)  # only the crash's restart turns it on
    stack.bot_communities.add(COMMUNITY)
    yield await started_with(stack, COMMUNITY, ("ro-1",))


async def test_a_repeat_cut_off_by_a_crash_still_blows_the_whistle(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bot = BotClient(client)
    body, rid, asked = await offered(bot, db, COMMUNITY, "ro-1")
    await after_the_answer_time(asked)  # a repeat now climbs (test_repeat_report_climbs_s40)

    async def merged() -> bool:
        q = "SELECT reports FROM api_intake WHERE request_id = $1"
        return await db.fetchval(q, rid) == 2  # the merge committed, Kafka's ack not come

    async def repeat() -> httpx.Response:
        """Posted as a bot does: again after a 503 `config_loading` (the new API answers
        /healthz before it has read its configuration, and knows no bot till then)."""
        async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as phone:
            while True:
                r = await BotClient(phone).post("/v1/requests", again(body, "m-cut-off"))
                if r.status_code != 503 or r.json()["detail"]["reason"] != "config_loading":
                    return r
                await asyncio.sleep(0.2)

    try:
        await crash_mid_send(api, repeat, merged, SWEEPER_ON)  # and its bot never retries
        blown = await whistled(db, rid)
    finally:
        api.extra_env.update(SWEEPER_OFF)
    assert blown["step"] > asked.step, blown
    row = await db.fetchrow("SELECT whistled_at FROM requests WHERE request_id = $1", rid)
    # The repeat's climb, decided as the worker read it (from its copy, session 42), not
    # the ladder's own whistle.
    assert row["whistled_at"] < asked.ladder_would_whistle(), (dict(row), asked.__dict__)

    # The sweeper sent the stored command itself: the id derived from both requests' ids.
    # (The worker decides it from its own copy, the same id with its `reissued_at`: not the
    # API's send, streams/late_commands.py.)
    expected = await queued_repeat(db, rid, COMMUNITY)
    commands = await commands_in(api, api.env()["DISPATCH_COMMANDS_TOPIC"])
    repeats = [c for c in commands if c["body"] == {"type": "report_repeated", "request_id": rid}]
    sent = [c["command_id"] for c in repeats if "reissued_at" not in c]
    assert sent == [expected.command_id], repeats
    copies = [c["command_id"] for c in repeats if "reissued_at" in c]
    assert copies == [expected.command_id], repeats
