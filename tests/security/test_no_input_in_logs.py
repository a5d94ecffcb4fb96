"""Finding 4: validation errors carried the input (a phone) into dead-letter reasons and
worker logs. The attack: a command missing one field but carrying a phone, sent to the
real `commands` topic and read by the real worker."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from dispatcher.logs import Redacting
from dispatcher.redact import describe
from dispatcher.testing.stack import LocalStack
from schemas.commands import Command
from schemas.dead_letter import DeadLetter
from tests.conftest import phones_in_logs
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually

PHONE = "13877776666"


def command_missing_a_field(community: str) -> bytes:
    """A producer that forgot `category` and sent the phone as a number: pydantic's error
    for `contact.phone` would print `input_value=13877776666` in full."""
    spec = {
        "request_id": "r-leak",
        "community_id": community,
        "contact": {"phone": int(PHONE)},
        "place": {"community_id": community, "building_id": "b3"},
        "urgency": "urgent",
        "text": "",
    }
    return json.dumps(
        {
            "v": 1,
            "command_id": "leaky",
            "community_id": community,
            "issued_at": "2026-11-21T08:00:00Z",
            "body": {"type": "submit_request", "spec": spec},
        }
    ).encode()


def test_a_validation_error_never_carries_the_input() -> None:
    with pytest.raises(ValidationError) as info:
        Command.model_validate_json(command_missing_a_field("c"))
    assert PHONE not in str(info.value)  # Wire models hide input in errors
    assert PHONE not in repr(info.value)
    assert PHONE not in describe(info.value)
    assert "spec" in describe(info.value)  # still says where it failed


def test_a_phone_in_any_exception_is_masked_in_the_log_line() -> None:
    formatter = Redacting(logging.Formatter("%(message)s"))
    try:
        raise ValueError(f"bad contact {PHONE} / +86 138-7777-6666")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed %s", ("x",), None)
        import sys

        record.exc_info = sys.exc_info()
        line = formatter.format(record)
    assert "ValueError" in line and PHONE not in line and "7777-6666" not in line
    assert PHONE not in describe(ValueError(f"phone {PHONE}"))


async def test_the_worker_dead_letters_without_logging_the_phone(stack: LocalStack) -> None:
    worker = stack.start_worker("worker-leak")
    env = stack.env()
    async with CommandProducer(stack.kafka_bootstrap, env["DISPATCH_COMMANDS_TOPIC"]) as p:
        await p.send_raw("leak", command_missing_a_field("leak"))
    records = await read_topic(stack.kafka_bootstrap, env["DISPATCH_DEAD_LETTER_TOPIC"], until=1)
    letter = DeadLetter.model_validate_json(records[0].value)
    assert letter.reason.startswith("undecodable command") and "spec" in letter.reason
    assert PHONE not in letter.reason

    async def logged() -> bool:
        return "dead-lettered" in worker.log_path.read_text(errors="replace")

    await eventually(logged, what="the worker to log the dead letter")
    assert PHONE not in worker.log_path.read_text(errors="replace")
    assert phones_in_logs(stack.root) == []
