"""The start-up check that a record of the `events` topic as the dispatch agent splits it
(schemas/event_batch.py, MAX_BYTES) is accepted by the topic's `max.message.bytes`.

A record the broker refuses is a failure that never passes: a group whose records went out
in several batches may then have its later commands' events acknowledged while the refused
one is dead-lettered, and the later ones, decided again one at a time on a state without
it, stored with other content under the same event ids (streams/dispatch_agent.py, `_emit`).
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from dispatcher.kafka_security import client_options
from dispatcher.settings import Settings
from schemas.event_batch import MAX_BYTES

log = logging.getLogger(__name__)

# A record batch's and a record's own bytes, and the key (a community id), above the value.
RECORD_OVERHEAD = 4096
NEEDED = MAX_BYTES + RECORD_OVERHEAD


def problem(max_message_bytes: int) -> str | None:
    """Why the topic's limit is too small for the agent's records, or None."""
    if max_message_bytes >= NEEDED:
        return None
    return (
        f"the events topic's max.message.bytes ({max_message_bytes}) is below the dispatch"
        f" agent's largest record ({NEEDED}): raise it, or large waves are dead-lettered"
    )


async def events_max_message_bytes(settings: Settings) -> int | None:
    """The topic's effective max.message.bytes (its own or the broker's), or None when it
    cannot be read (a principal without DescribeConfigs)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, settings.events_topic)
        [response] = await admin.describe_configs([resource])
        # (error, message, type, name, configs); a config: (key, value, ...)
        [(error, _, _, _, configs)] = response.resources
        if error:
            return None
        values = {c[0]: c[1] for c in configs}
        raw = values.get("max.message.bytes")
        return int(raw) if raw is not None else None
    finally:
        await admin.close()


async def check_events_record_limit(settings: Settings) -> None:
    """Log (critical) a limit too small; never stops the worker (a refused record is
    dead-lettered, not lost)."""
    try:
        limit = await events_max_message_bytes(settings)
    except Exception:  # a check only: the worker runs without it
        limit = None
    if limit is None:
        # Worded without the exception's name: a principal without DescribeConfigs is a
        # deployment's choice, not an authorisation failure to alert on.
        log.warning("the events topic's max.message.bytes could not be read: not checked")
        return
    why = problem(limit)
    if why is not None:
        log.critical(why)
    else:
        log.info("the events topic's max.message.bytes %d takes records of %d", limit, NEEDED)
