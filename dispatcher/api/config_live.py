"""The API's side of live configuration: follow the `config` topic, seed an empty store in
production, and write staff changes so that this API shows them before it answers."""

from __future__ import annotations

import asyncio
import logging

from dispatcher.api.deps import ApiDeps
from dispatcher.config.bootstrap import bootstrap_config, seed_records
from dispatcher.config.changes import ConfigError
from schemas.config import ConfigRecord

log = logging.getLogger(__name__)

VISIBLE_WITHIN_S = 10.0


async def follow(deps: ApiDeps) -> None:
    """Until cancelled: keep the view live; in production, seed an empty store once loaded."""
    follower = deps.config_follower
    if follower is None:
        return
    task = asyncio.create_task(follower.run(), name="config-follower")
    try:
        await follower.loaded.wait()
        if deps.settings.mode != "dev":
            bots, endpoints = bootstrap_config(deps.settings)
            try:
                records = seed_records(deps.config, bots, endpoints, deps.clock())
            except ConfigError as exc:
                # Never ready on a refused seed: say why (the message names fields, no secret).
                log.critical("configuration not seeded: %s", exc)
                raise
            if records:
                log.info(
                    "config store empty: seeding %d entities from the environment", len(records)
                )
                await write(deps, records)
        follower.set_ready()  # readiness and bot checks from here: seeded, if it had to be
        await task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def write(deps: ApiDeps, records: list[ConfigRecord]) -> bool:
    """Produce the records (acks=all), in order; True once this API's view shows them all."""
    if deps.config_writer is None or deps.config_follower is None:
        raise RuntimeError("configuration is fixed in this process (no Kafka)")
    async with deps.config_lock:  # one writer at a time: edits read the view they change
        last = None
        for record in records:
            last = await deps.config_writer.write(record)
        if last is None:
            return True
        return await deps.config_follower.wait_applied(last, VISIBLE_WITHIN_S)
