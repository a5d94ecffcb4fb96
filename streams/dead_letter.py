"""The dead-letter sink: what cannot be decoded or processed goes to the dead-letter topic
with its reason and position, and consumption goes on."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from dispatcher.clock import Clock
from dispatcher.redact import describe
from schemas.dead_letter import DeadLetter
from streams.runtime import Stats

log = logging.getLogger(__name__)

Stage = Literal["decode", "process", "record", "notify"]


def dead_letter_for(
    event: Any, reason: str, stage: Stage, at: datetime, payload: bytes | None = None
) -> DeadLetter:
    """Build the record from a Faust event (its `message`) or an aiokafka ConsumerRecord:
    both have topic, partition, offset, key and value. `payload` replaces the record's value
    when one event of a batch is the problem (the reason then names its position)."""
    msg = getattr(event, "message", event)
    value = msg.value
    # A tombstone (None) is lettered as empty, not as the text "None".
    raw = value if isinstance(value, bytes) else b"" if value is None else str(value).encode()
    if payload is not None:
        raw = payload
    key = msg.key.decode(errors="replace") if isinstance(msg.key, bytes) else msg.key
    return DeadLetter(
        source_topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=key,
        reason=reason[:2000],
        stage=stage,
        payload_b64=base64.b64encode(raw).decode(),
        at=at,
    )


def short(exc: BaseException) -> str:
    """An exception as a reason: never the input (a command holds phones and addresses)."""
    return describe(exc)


@dataclass
class DeadLetterSink:
    topic: Any  # the Faust dead-letter topic
    stats: Stats
    clock: Clock

    async def send(
        self, event: Any, reason: str, stage: Stage, *, payload: bytes | None = None
    ) -> None:
        """Dead-letter `event`; a failure to do so is logged, never raised into an agent."""
        self.stats.dead_letters += 1
        try:
            letter = dead_letter_for(event, reason, stage, self.clock.now(), payload)
            # Log position and reason only: the payload may hold personal data.
            log.warning(
                "dead-lettered %s[%s]@%s at %s: %s",
                letter.source_topic,
                letter.partition,
                letter.offset,
                stage,
                letter.reason[:200],
            )
            await self.topic.send(key=letter.key, value=letter.model_dump_json().encode())
        except Exception:
            log.exception("could not dead-letter %s", getattr(event, "offset", "?"))
