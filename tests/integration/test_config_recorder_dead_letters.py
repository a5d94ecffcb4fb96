"""The worker's config recorder, on the real Kafka and PostgreSQL, meets records PostgreSQL
cannot hold: each is dead-lettered with its reason and position, the recorder commits past
it and records the next change; a restarted worker does not meet it again.

Review finding: a staff token's `{"display_name": "\\u0000"}` reached the `config` topic,
the recorder's write failed (asyncpg UntranslatableCharacterError), the worker crashed
before committing, and every restart crashed on the same record: a crash loop. The API
now refuses such documents (tests/unit/test_unstorable_text_refusals.py); here the record
is written straight to the topic, as that API did.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from dispatcher.testing.stack import LocalStack
from schemas.dead_letter import DeadLetter
from tests.support.kafka import CommandProducer, read_topic
from tests.support.waiting import eventually


def record(entity: str, **state: Any) -> tuple[str, bytes, str]:
    """(key, value, change id) of a community's change as the API's ConfigWriter writes it,
    but for its state: JSON's own escapes (\\u0000) and NaN, no model in the way."""
    change_id = uuid.uuid4().hex
    doc = {
        "v": 1,
        "change_id": change_id,
        "kind": "community",
        "id": entity,
        "actor": "staff-a",
        "issued_at": datetime.now(UTC).isoformat(),
        "communities": [entity],
        "state": {"community_id": entity, **state},
    }
    return f"community/{entity}", json.dumps(doc).encode(), change_id


async def recorded(conn: asyncpg.Connection, change_id: str) -> bool:
    found = await conn.fetchval("SELECT 1 FROM config_entities WHERE change_id = $1", change_id)
    return bool(found)


async def test_config_records_postgresql_refuses_are_dead_lettered_not_a_crash_loop(
    stack: LocalStack,
) -> None:
    env = stack.env()
    config_topic, dead_topic = env["DISPATCH_CONFIG_TOPIC"], env["DISPATCH_DEAD_LETTER_TOPIC"]
    worker = stack.start_worker()
    nul = record("cfg-nul", display_name="\x00")  # json.dumps writes it as \u0000
    nan = record("cfg-nan", display_name="南", weight=float("nan"))  # jsonb has no NaN
    good = record("cfg-fine", display_name="好")
    async with CommandProducer(stack.kafka_bootstrap, config_topic) as producer:
        for key, value, _ in (nul, nan, good):
            await producer.send_raw(key, value)

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await eventually(
            lambda: recorded(conn, good[2]),
            what="the change after the refused ones to be recorded",
            explain=lambda: worker.log_tail(),
        )
        letters = [
            DeadLetter.model_validate_json(r.value)
            for r in await read_topic(stack.kafka_bootstrap, dead_topic, until=2)
        ]
        by_payload = {base64.b64decode(letter.payload_b64): letter for letter in letters}
        assert set(by_payload) == {nul[1], nan[1]}  # the records, intact, for a look later
        for letter in letters:
            assert letter.source_topic == config_topic and letter.offset >= 0
        # The NUL: no config record holds one any more, so it is refused as it is read.
        assert by_payload[nul[1]].stage == "decode"
        assert "U+0000" in by_payload[nul[1]].reason
        # NaN passes as a record, and PostgreSQL refuses it: the recorder's own refusal.
        assert by_payload[nan[1]].stage == "record"
        assert by_payload[nan[1]].reason.startswith(f"config change {nan[2]} refused:")
        assert not await recorded(conn, nul[2]) and not await recorded(conn, nan[2])
        assert worker.alive(), worker.log_tail()

        # Restarted, the worker goes on from the committed offsets: no crash, no letter
        # twice, and the next change is recorded.
        worker.stop()
        worker = stack.start_worker()
        after = record("cfg-fine", display_name="更好")
        async with CommandProducer(stack.kafka_bootstrap, config_topic) as producer:
            await producer.send_raw(after[0], after[1])
        await eventually(
            lambda: recorded(conn, after[2]),
            what="a change after the restart to be recorded",
            explain=lambda: worker.log_tail(),
        )
        again = await read_topic(stack.kafka_bootstrap, dead_topic, until=3, timeout=5)
        assert len(again) == 2
        assert worker.alive(), worker.log_tail()
    finally:
        await conn.close()
