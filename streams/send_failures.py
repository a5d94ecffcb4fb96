"""What a failed send to Kafka means for the record being handled, and the exit that leaves
it unacknowledged: shared by the dispatch agent (a command's events) and the dead-letter
sink (a bad record's letter). A failure of Kafka or of the producer may pass (the broker
away, a leader moving, an authorization refused, the producer stopping): the send is tried
again, then the worker exits (75) before the record is acknowledged, and the supervisor's
restart reads it again. A record too large for its topic is refused every time."""

from __future__ import annotations

import logging
import os
from typing import NoReturn

from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from faust.exceptions import NotReady, ProducerSendError

log = logging.getLogger(__name__)

EXIT_REPLAY = 75  # EX_TEMPFAIL: the supervisor restarts the worker; the record is read again

# The record itself refused: sent again, it is refused again.
_RECORD_REFUSED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
# Kafka's or the producer's: not the record's (aiokafka's KafkaTimeoutError is not
# `retriable`, nor is a refused authorization: both pass once the broker or its settings do).
_KAFKA_FAILURE = (KafkaError, NotReady, ProducerSendError, ConnectionError, TimeoutError)


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and its causes (Faust raises ProducerSendError from aiokafka's error)."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__
    return chain


def record_too_large(exc: BaseException) -> bool:
    """Whether Kafka (or the producer, before sending) refused the record for its size."""
    return any(isinstance(c, _RECORD_REFUSED) for c in _causes(exc))


def send_may_pass(exc: BaseException) -> bool:
    """Whether a send failed on Kafka, not on its record: any error of Kafka or of the
    producer, along `exc`'s causes (Faust raises ProducerSendError from aiokafka's; a group
    `_NotEmitted` from the send's), but a record too large. What failed so is never
    dead-lettered (nor its letter given up): it is sent again, or read again after a
    restart. Anything else (the core refusing a command, a record that cannot be encoded, a
    record too large) fails the same way every time."""
    return not record_too_large(exc) and any(isinstance(c, _KAFKA_FAILURE) for c in _causes(exc))


def exit_to_replay(what: str) -> NoReturn:
    """Stop the worker before its current records are acknowledged: the supervisor restarts
    it and they are read again from the committed offset."""
    log.critical("%s: exiting so the record is read again", what)
    logging.shutdown()
    os._exit(EXIT_REPLAY)
