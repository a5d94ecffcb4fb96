"""What the API's handlers need, built once at startup (the API's composition root)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from fastapi import HTTPException

from dispatcher.api.errors import fail
from dispatcher.api.held_connections import HeldConnections
from dispatcher.api.idempotency import DoneMarks
from dispatcher.api.producer import CommandSink, KafkaCommandSink
from dispatcher.api.ratelimit import RateLimiter
from dispatcher.api.staff_accounts import StaffDirectory
from dispatcher.clock import utcnow
from dispatcher.config.bootstrap import build_view
from dispatcher.config.follower import ConfigFollower, ConfigWriter
from dispatcher.config.view import ConfigView
from dispatcher.groupchat.bots import BotConfig, BotRegistry
from dispatcher.settings import Settings

# As `queue_unavailable`: the configuration comes from Kafka's `config` topic.
CONFIG_RETRY_AFTER_S = "2"


def config_loading() -> HTTPException:
    """The live configuration is not read yet (the API just started, or Kafka, which holds
    it, is out of reach): no bot can be known, so nobody can be dispatched. An outage's 503
    with Retry-After, never a bare one: the caller retries (a life-threatening message's
    refusal carries the call-now reply: `bot_auth`)."""
    return fail(
        503,
        "config_loading",
        "configuration not loaded yet: nothing was acknowledged; please retry (the message "
        "id / Idempotency-Key keeps a retry from dispatching twice)",
        {"Retry-After": CONFIG_RETRY_AFTER_S},
    )


@dataclass
class ApiDeps:
    settings: Settings
    sink: KafkaCommandSink | CommandSink
    # Given (tests): a fixed configuration. None: the live configuration (dispatcher/config),
    # followed from the `config` topic, over the bots file / dev bots in dev mode.
    bots: BotRegistry | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    # The API's one clock: every wall-clock read of its handlers and loops goes through it
    # (commands' issued_at, link and session expiry, webhook timestamps); tests pass their own.
    clock: Callable[[], datetime] = utcnow
    _pool: asyncpg.Pool | None = None
    _pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_purge: float = 0.0
    staff: StaffDirectory | None = None  # None: from settings (DISPATCH_STAFF_FILE)
    config: ConfigView = field(init=False)
    config_follower: ConfigFollower | None = field(init=False, default=None)
    config_writer: ConfigWriter | None = field(init=False, default=None)
    config_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done_marks: DoneMarks = field(init=False)  # idempotency answers final after their 202
    # The intake statement's connections, kept between requests (a few of the pool's).
    intake_db: HeldConnections = field(init=False)

    def __post_init__(self) -> None:
        self.done_marks = DoneMarks(self.pool)
        self.intake_db = HeldConnections(self.pool, keep=min(2, self.settings.pg_pool_max - 1))
        self.config = build_view(self.settings, self.bots)
        if self.bots is None and isinstance(self.sink, KafkaCommandSink):
            self.config_follower = ConfigFollower(self.settings, self.config)
            self.config_writer = ConfigWriter(self.settings)
        else:  # no Kafka (unit tests): the given or bootstrap configuration, fixed
            self.config.loaded = True
        if self.staff is None:
            self.staff = StaffDirectory(self.settings)
            self.staff.load()  # a bad staff file fails start-up loudly

    def wall(self) -> float:
        """The clock in Unix seconds (webhook timestamps, session cookies)."""
        return self.clock().timestamp()

    @property
    def staff_directory(self) -> StaffDirectory:
        assert self.staff is not None
        return self.staff

    @property
    def registry(self) -> BotRegistry:
        """The bots as configured now (live: a change applies to the next request)."""
        return self.config.bots()

    def bot(self, bot_id: str | None) -> BotConfig | None:
        """A bot by id; 503 `config_loading` until the configuration is loaded (never a
        stale refusal)."""
        if not self.config.loaded:
            raise config_loading()
        return self.config.bots().get(bot_id) if bot_id else None

    async def pool(self) -> asyncpg.Pool:
        # Lazy: the API starts (and reports not-ready) even while PostgreSQL is still coming up.
        if self._pool is not None:
            return self._pool
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.settings.pg_dsn.get_secret_value(),
                    min_size=1,
                    max_size=self.settings.pg_pool_max,
                    timeout=5,
                    reset=_keep_session,
                )
            return self._pool

    async def close(self) -> None:
        if self.config_writer is not None:
            await self.config_writer.close()
        if self._pool is not None:
            await self.done_marks.close()
            await self.intake_db.close()
            await self._pool.close()
            self._pool = None
        stop = getattr(self.sink, "stop", None)
        if stop is not None:
            await stop()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's default reset query (RESET ALL, UNLISTEN *, CLOSE
    ALL, advisory unlock): one round trip more per pool call, and the API leaves none of
    that behind (no SET, LISTEN, cursors or session locks: transaction-scoped locks only).
    An open transaction is still rolled back by asyncpg before this is called."""
