"""`DISPATCH_INTAKE_SEND_EARLY=false` (a rolling upgrade from a release whose workers refuse
a command's merge key): a report's command goes to Kafka only after its intake statement,
and carries no merge key (see test_intake_send_early.py for the held-up statement)."""

from __future__ import annotations

from dispatcher.testing.stack import LocalStack
from tests.integration.test_intake_send_early import held_statements


async def test_the_command_waits_for_the_statement_and_names_no_merge_key(
    stack: LocalStack,
) -> None:
    stack.extra_env["DISPATCH_INTAKE_SEND_EARLY"] = "false"
    async with held_statements(stack) as post:
        held = await post({}, lands=False)
        assert held.sent == [] and held.answer["merged"] is False
        assert "merge_key" not in held.command["body"]
