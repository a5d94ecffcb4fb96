"""Pool connections kept out of the pool between the intake's statements (issue 18).

Each `pool.fetchrow` acquires a connection and gives it back: on release asyncpg resets it,
re-arms its inactivity timer and does all that in a task of its own (`asyncio.shield`), so
one statement costs a few more event-loop turns and, measured with `SELECT 1` on this
machine, about 20-40 µs more CPU and 50 µs more wall time than one on a connection already
in hand. The intake's one statement (`intake.submit`) runs on connections taken from the
same pool and kept here instead: at most `keep` of them idle, so the pool's size still
bounds the API's connections and other callers get the rest. A statement that fails or is
cancelled gives its connection back to the pool (which resets or replaces it), so a
connection in an unknown state is never reused here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg


class HeldConnections:
    def __init__(self, pool: Callable[[], Awaitable[asyncpg.Pool]], keep: int) -> None:
        self._pool = pool
        self._keep = keep
        self._idle: list[Any] = []  # asyncpg's pool connection proxies, acquired
        self._closing = False

    async def fetchrow(self, query: str, *args: Any) -> Any:
        pool = await self._pool()
        con = self._idle.pop() if self._idle else None
        if con is None or not usable(con):
            if con is not None:
                await pool.release(con)  # the pool replaces it (nothing if it took it back)
            con = await pool.acquire()
        try:
            row = await con.fetchrow(query, *args)
        except BaseException:
            await pool.release(con)
            raise
        if len(self._idle) < self._keep and not self._closing:
            self._idle.append(con)
        else:
            await pool.release(con)
        return row

    async def close(self) -> None:
        """Give every held connection back, and keep none from now on (before the pool
        closes: it waits for them)."""
        self._closing = True
        if not self._idle:
            return
        pool = await self._pool()
        while self._idle:
            await pool.release(self._idle.pop())


def usable(con: Any) -> bool:
    """Still open: its server may have closed it meanwhile (asyncpg's pool then takes the
    connection back itself, and the proxy refuses every call)."""
    try:
        return not con.is_closed()
    except asyncpg.InterfaceError:
        return False
