"""A merged report whose sends Kafka refused is not lost (session 41): once the broker is
back, the unrecorded sweeper sends its `ReportRepeated`, after its request's own command.

The refusal is real (the namespace's commands topic is deleted on the real broker: topics
are never auto-created, so every produce fails with 503). A report is refused, and so is a
second report of the same incident, merged into it (its 503 comes from re-sending the
first's stored command); neither bot retries. Before, the merge was committed and its
`ReportRepeated` kept nowhere: nothing would ever send it. No worker: the commands topic
itself is read.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from dispatcher.testing.stack import LocalStack
from tests.integration.test_claims_outlive_api_crash import SWEEPER_ON
from tests.integration.test_intake_outbox import delete_topic
from tests.integration.test_merge_resend import commands_in, submitted
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.repeat_outbox import queued_repeat
from tests.support.waiting import eventually

COMMUNITY = "s41-repeat-refused"


async def test_a_refused_repeat_is_sent_by_the_sweeper_after_its_request(
    stack: LocalStack,
) -> None:
    stack.extra_env["DISPATCH_RECONCILE_ENABLED"] = "false"  # while Kafka refuses
    stack.bot_communities.add(COMMUNITY)
    api = await stack.start_api()
    topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
    await delete_topic(stack, topic)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        bot = BotClient(client)
        first = await bot.post("/v1/requests", builders.request(COMMUNITY))
        assert first.status_code == 503, first.text
        again = await bot.post("/v1/requests", builders.request(COMMUNITY))  # merged into it
        assert again.status_code == 503, again.text

    stack.run_cli("topics")  # the broker is back for this namespace (an empty topic)
    api.stop()
    stack.extra_env.update(SWEEPER_ON)
    await stack.start_api()

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        earlier = await conn.fetchval("SELECT request_id FROM api_intake")
        assert await conn.fetchval("SELECT reports FROM api_intake") == 2  # merged

        async def repeated() -> list[dict[str, Any]] | None:
            commands = await commands_in(stack, topic)
            found = [c for c in commands if c["body"]["type"] == "report_repeated"]
            return commands if found else None

        commands = await eventually(repeated, timeout=30, what="the sweeper's ReportRepeated")
        expected = await queued_repeat(conn, earlier, COMMUNITY)
    finally:
        await conn.close()
    repeats = [c for c in commands if c["body"]["type"] == "report_repeated"]
    assert [c["command_id"] for c in repeats] == [expected.command_id], repeats
    assert repeats[0]["body"] == {"type": "report_repeated", "request_id": earlier}
    # After its request's own command (one partition, the community's): a repeat of a
    # request the worker does not know yet is refused (`unknown_request`).
    first_submit = commands.index(submitted(commands, earlier)[0])
    assert first_submit < commands.index(repeats[0]), commands
