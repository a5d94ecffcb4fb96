"""Test hook, loaded by the worker of tests/integration/test_crash_changelog_ack.py (its
PYTHONPATH names this directory): the produce of the `requests` changelog record whose key
is $DISPATCH_TEST_HOLD_KEY never completes, as if the worker were killed while Kafka had
not yet acknowledged it. Nothing else changes: the writer has done whatever it does before
handing the record to aiokafka."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from aiokafka import AIOKafkaProducer

HOLD = os.environ.get("DISPATCH_TEST_HOLD_KEY", "").encode()
log = logging.getLogger("held-ack hook")
_send = AIOKafkaProducer.send


async def send(self: Any, topic: str, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
    if HOLD and key == HOLD and topic.endswith("-requests-changelog"):
        log.warning("held-ack hook: holding the changelog record of %r", key)
        await asyncio.Event().wait()  # never: the worker is killed meanwhile
    return await _send(self, topic, value, key=key, **kwargs)


AIOKafkaProducer.send = send  # type: ignore[method-assign]
