"""On the real broker: a submit's copy that Kafka places directly behind its original is
decided as the acknowledgement comes back, not when the copy is fetched (session 43,
streams/late_commands.py `follows_its_original`); read back, it changes nothing.
The unit tests (tests/unit/test_copy_at_ack_s43.py) show the same decision either way."""

from __future__ import annotations

from typing import Any

from dispatcher.testing.stack import LocalStack
from schemas.commands import Command, SubmitRequest, UpsertHelper
from schemas.event_batch import decode_events
from schemas.events import sent_offers
from schemas.helpers import HelperProfile
from schemas.requests import RequestSpec
from tests.support import builders
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually

COMMUNITY = "copy-at-ack"
HELPERS = [f"d{i}" for i in range(3)]


async def test_a_lone_submits_copy_is_decided_at_its_acknowledgement(stack: LocalStack) -> None:
    env = stack.env()
    worker = stack.start_worker()

    async def processed(count: int) -> dict[str, Any] | None:
        stats = await stack.worker_stats(worker)
        return stats if stats is not None and stats["commands"] >= count else None

    async with CommandProducer(stack.kafka_bootstrap, env["DISPATCH_COMMANDS_TOPIC"]) as producer:
        for hid in HELPERS:
            profile = HelperProfile.model_validate(builders.helper(hid, COMMUNITY, ["driving"]))
            await producer.send(UpsertHelper(profile=profile), COMMUNITY)
        await eventually(lambda: processed(len(HELPERS)), timeout=90, what="helpers taken")
        spec = RequestSpec.model_validate(
            {**builders.request(COMMUNITY), "request_id": "r-ack", "community_id": COMMUNITY}
        )
        submit = await producer.send(SubmitRequest(spec=spec), COMMUNITY)

        async def decided_early() -> dict[str, Any] | None:
            stats = await stack.worker_stats(worker)
            return stats if stats is not None and stats["decided_at_ack"] >= 1 else None

        stats = await eventually(decided_early, timeout=60, what="the copy decided at its ack")
        assert (stats["reissued"], stats["decided_at_ack"]) == (1, 1), stats
        # A command behind the copy: once it is decided, the copy was read back (skipped).
        late = HelperProfile.model_validate(builders.helper("d-late", COMMUNITY, ["driving"]))
        await producer.send(UpsertHelper(profile=late), COMMUNITY)
    # The helpers, the copy decided early, the late helper: the read-back decided nothing.
    stats = await eventually(
        lambda: processed(len(HELPERS) + 2), timeout=60, what="the command behind the copy"
    )
    # (a deadline of the request's first rung may fire meanwhile on a slow machine)
    assert stats["commands"] - stats["deadlines_fired"] == len(HELPERS) + 2, stats

    commands = await read_topic(
        stack.kafka_bootstrap, env["DISPATCH_COMMANDS_TOPIC"], until=len(HELPERS) + 3
    )
    original, copy_record = [
        r for r in commands if Command.model_validate_json(r.value).command_id == submit.command_id
    ]
    assert copy_record.offset == original.offset + 1  # directly behind: nothing between
    copy = Command.model_validate_json(copy_record.value)
    assert copy.reissued_at is not None

    records = await read_topic(
        stack.kafka_bootstrap, env["DISPATCH_EVENTS_TOPIC"], until=len(HELPERS) + 1
    )
    events = [e for r in records for e in decode_events(r.value) if e.request_id == "r-ack"]
    types = [e.body.type for e in events]
    assert types.count("request_opened") == 1, types  # the read-back emitted nothing
    waves = [e for e in events if e.body.type in ("offer_sent", "offers_sent")]
    assert waves and sum(len(sent_offers(e.body)) for e in waves) == len(HELPERS)
    assert {e.occurred_at for e in waves} == {copy.reissued_at}  # at the copy's time
