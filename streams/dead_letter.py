"""Send what cannot be decoded or processed to the dead-letter topic, and go on consuming."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from schemas.dead_letter import DeadLetter

log = logging.getLogger(__name__)

Stage = Literal["decode", "process", "record", "notify"]


def dead_letter_for(event: Any, reason: str, stage: Stage) -> DeadLetter:
    """Build the record from a Faust event (its `message`) or an aiokafka ConsumerRecord:
    both have topic, partition, offset, key and value."""
    msg = getattr(event, "message", event)
    raw = msg.value if isinstance(msg.value, bytes) else str(msg.value).encode()
    key = msg.key.decode(errors="replace") if isinstance(msg.key, bytes) else msg.key
    return DeadLetter(
        source_topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=key,
        reason=reason[:2000],
        stage=stage,
        payload_b64=base64.b64encode(raw).decode(),
        at=datetime.now(UTC),
    )


async def send_dead_letter(topic: Any, event: Any, reason: str, stage: Stage) -> DeadLetter:
    letter = dead_letter_for(event, reason, stage)
    # Log position and reason only: the payload may hold personal data.
    log.warning(
        "dead-lettered %s[%s]@%s at %s: %s",
        letter.source_topic,
        letter.partition,
        letter.offset,
        stage,
        letter.reason[:200],
    )
    await topic.send(key=letter.key, value=letter.model_dump_json().encode())
    return letter
