"""The dead-letter sink: what cannot be decoded or processed goes to the dead-letter topic
with its reason and position, and consumption goes on.

The sink returns once Kafka has acknowledged the letter: the agent acknowledges the bad
record after it, so a record acknowledged is never one whose letter was lost. A send Kafka
may yet take (the broker away, a leader moving, the topic refusing this principal, the
producer stopping: streams/send_failures.py) is tried again, then the worker exits (75)
with the record unacknowledged, read again after the restart. A letter too large for the
topic (it carries the record base64, 4/3 of its size) is sent again without the payload,
its reason saying so.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from dispatcher.clock import Clock
from dispatcher.redact import describe, mask_phones
from schemas.dead_letter import DeadLetter
from streams.runtime import Stats
from streams.send_failures import exit_to_replay, record_too_large, send_may_pass

log = logging.getLogger(__name__)

Stage = Literal["decode", "process", "record", "notify"]

# Between the sends of a letter that Kafka may yet take; then exit (75). Each failed send has
# already waited out aiokafka's own retries (up to Faust's producer_request_timeout).
LETTER_RETRY_DELAYS_S = (0.5, 1.0, 2.0)


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
        # Masked here too: not every reason is `describe`'s (an undecodable record's
        # id and type are quoted as written on the topic).
        reason=mask_phones(reason)[:2000],
        stage=stage,
        payload_b64=base64.b64encode(raw).decode(),
        at=at,
    )


def short(exc: BaseException) -> str:
    """An exception as a reason: never the input (a command holds phones and addresses)."""
    return describe(exc)


def without_payload(letter: DeadLetter) -> DeadLetter:
    """`letter` with no payload, its reason saying why (the reason stays within its 2000)."""
    size = len(base64.b64decode(letter.payload_b64))
    note = (
        f" [payload of {size} bytes not kept: the dead letter was too large for the"
        " dead-letter topic]"
    )
    reason = letter.reason[: 2000 - len(note)] + note
    return letter.model_copy(update={"payload_b64": "", "reason": reason})


@dataclass
class DeadLetterSink:
    topic: Any  # the Faust dead-letter topic
    stats: Stats
    clock: Clock
    retry_delays: tuple[float, ...] = LETTER_RETRY_DELAYS_S

    async def send(
        self, event: Any, reason: str, stage: Stage, *, payload: bytes | None = None
    ) -> None:
        """Dead-letter `event`; returns once Kafka acknowledged the letter. A failure Kafka
        may yet pass is tried again, then the worker exits (75) with `event` unacknowledged;
        never raised into an agent. A letter too large goes again without its payload; a
        failure that is not Kafka's (a bug: the letter cannot be built or sent at all) is
        logged, critical, as it would fail the same way at every try."""
        self.stats.dead_letters += 1
        where = f"{getattr(event, 'topic', '?')}@{getattr(event, 'offset', '?')}"
        try:
            letter = dead_letter_for(event, reason, stage, self.clock.now(), payload)
        except Exception as exc:  # never the traceback: its values may be the input's
            log.critical("could not dead-letter %s: no letter built (%s)", where, short(exc))
            return
        where = f"{letter.source_topic}[{letter.partition}]@{letter.offset}"
        # Log position and reason only: the payload may hold personal data.
        log.warning("dead-lettered %s at %s: %s", where, stage, letter.reason[:200])
        failures = 0
        while True:
            try:
                await self._send(letter)
                return
            except Exception as exc:
                if record_too_large(exc) and letter.payload_b64:
                    letter = without_payload(letter)
                    log.error("dead letter of %s too large: sent again without payload", where)
                    continue
                if not send_may_pass(exc):
                    log.critical("could not dead-letter %s: %s", where, short(exc))
                    return
                failures += 1
                if failures > len(self.retry_delays):
                    exit_to_replay(
                        f"the dead letter of {where} was not sent after {failures} attempts "
                        f"({short(exc)})"
                    )
                delay = self.retry_delays[failures - 1]
                log.warning(
                    "the dead letter of %s was not sent (%s): attempt %d, again in %.1f s",
                    where,
                    short(exc),
                    failures,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _send(self, letter: DeadLetter) -> None:
        """Send `letter` and wait for Kafka's acknowledgement (Faust's send only buffers it:
        it returns the record's future)."""
        fut = await self.topic.send(key=letter.key, value=letter.model_dump_json().encode())
        await fut
