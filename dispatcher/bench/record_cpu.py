"""CPU per recorded event, any checkout: `PYTHONPATH=<tree> python dispatcher/bench/record_cpu.py`.

Records one event stream with the `record_events` of the tree on PYTHONPATH (so the code of
another commit can be measured with this file: run it as a script, not with `-m`) into a
fresh database, in batches as the record agent gets them, and prints one JSON line: events/s,
this process's CPU and the PostgreSQL backend's CPU (/proc) per event, statements per batch
(from an untimed second pass into another database) and the load average.

Streams: `bench` = `bench record`'s (600 requests: opened, 120 advice, offer waves, declines,
assignments, stand-downs); `sim` = four days of the what-if simulator on the real core
(expiries, escalations, whistles, withdrawals, resolutions, roster updates).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

import dispatcher
from dispatcher.bench.record import _drop_db, _fresh_db, generate_events, local_pg_dsn
from dispatcher.record.projection import record_events
from schemas.events import Event

CALLS = ("execute", "fetch", "fetchval", "fetchrow", "executemany", "copy_records_to_table")


def simulated_days(seed: int, days: int = 4) -> list[Event]:
    """Every event the real core emits in a what-if run (captured around `decide`)."""
    import dispatcher.simulate.engine as engine
    from dispatcher.simulate.behaviour import load_behaviour
    from dispatcher.simulate.policies import resolve_policies
    from dispatcher.simulate.scenario import Scenario

    events: list[Event] = []
    real = engine.decide

    def keep(state: Any, command: Any, now: datetime) -> Any:
        decision = real(state, command, now)
        events.extend(decision.events)
        return decision

    engine.decide = keep  # type: ignore[assignment]
    try:
        start = datetime(2026, 3, 2, tzinfo=UTC)
        scenario = Scenario.demo(behaviour=load_behaviour(None), seed=seed, start=start, days=days)
        scenario.run("plans", resolve_policies(["plans"])["plans"])
    finally:
        engine.decide = real
    return events


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Counting:
    """The connection, counting the statements sent (one round trip each)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn, self.sent = conn, 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._conn, name)
        if name not in CALLS:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.sent += 1
            return attr(*args, **kwargs)

        return counted


async def _record(dsn: str, events: Sequence[Event], batch: int, count: bool) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        target: Any = _Counting(conn) if count else conn
        pg0, py0, t0 = _cpu_seconds(pid), time.process_time(), time.perf_counter()
        for i in range(0, len(events), batch):
            await record_events(target, events[i : i + batch])
        wall, py, pg = (
            time.perf_counter() - t0,
            time.process_time() - py0,
            _cpu_seconds(pid) - pg0,
        )
        return {"wall": wall, "py": py, "pg": pg, "sent": target.sent if count else 0}
    finally:
        await conn.close()


async def measure(stream: str, batch: int, seed: int) -> dict[str, Any]:
    events = generate_events(600, 2000, seed) if stream == "bench" else simulated_days(seed)
    # As the record agent has them: decoded from their JSON.
    events = [Event.model_validate_json(e.model_dump_json()) for e in events]
    base = local_pg_dsn()
    tag = uuid.uuid4().hex[:8]
    names = [f"bench_record_cpu_{tag}_{n}" for n in "ab"]
    try:
        timed = await _record(await _fresh_db(base, names[0]), events, batch, count=False)
        counted = await _record(await _fresh_db(base, names[1]), events, batch, count=True)
    finally:
        for name in names:
            await _drop_db(base, name)
    n = len(events)
    batches = -(-n // batch)
    return {
        "tree": os.path.dirname(os.path.dirname(dispatcher.__file__)),
        "stream": stream,
        "events": n,
        "kinds": len(Counter(e.body.type for e in events)),
        "batch": batch,
        "events_per_s": round(n / timed["wall"]),
        "python_us_per_event": round(timed["py"] / n * 1e6, 1),
        "postgres_us_per_event": round(timed["pg"] / n * 1e6, 1),
        "statements_per_batch": round(counted["sent"] / batches, 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stream", choices=["bench", "sim"], default="bench")
    parser.add_argument("--batch", type=int, default=200, help="events per transaction")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.stream, args.batch, args.seed))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
