"""What the API's handlers need, built once at startup (the API's composition root)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg

from dispatcher.api.producer import CommandSink, KafkaCommandSink
from dispatcher.settings import Settings


@dataclass
class ApiDeps:
    settings: Settings
    sink: KafkaCommandSink | CommandSink
    _pool: asyncpg.Pool | None = None
    _pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def pool(self) -> asyncpg.Pool:
        # Lazy: the API starts (and reports not-ready) even while PostgreSQL is still coming up.
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.settings.pg_dsn.get_secret_value(),
                    min_size=1,
                    max_size=self.settings.pg_pool_max,
                    timeout=5,
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        stop = getattr(self.sink, "stop", None)
        if stop is not None:
            await stop()
