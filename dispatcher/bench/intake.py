"""`python -m dispatcher bench intake`: the API's answer time (POST /v1/requests → 202) and
its CPU per request, on the real local Kafka and PostgreSQL, in an isolated namespace.

With `--compare REV`, the API of git revision REV runs beside the current one against the
same database and topics, and the offered requests alternate between the two (each gets
`--rate` per second, open loop): both see the same machine at the same moment. No worker
runs: the intake path ends when Kafka has the command (acks=all). Latency is measured from
each request's scheduled time (no coordinated omission), the actual send beside it.
A measurement: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatcher.api import server_timing
from dispatcher.bench.e2e_city import RequestFactory, build_city
from dispatcher.bench.e2e_cpu import (
    CpuMeter,
    cpu_ms_per_request,
    listening_pid,
    read_stats,
    tick_hz,
)
from dispatcher.bench.e2e_http import HttpClient, HttpError
from dispatcher.bench.e2e_load import Prepared, phases_summary, prepare
from dispatcher.bench.e2e_report import phases_line
from dispatcher.bench.e2e_stack import BOT_ID, BOT_SECRET, bench_stack
from dispatcher.bench.e2e_stats import summarize
from dispatcher.bench.match_compare import extract, resolve
from dispatcher.bench.pacer import pacing
from dispatcher.testing.stack import (
    LocalStack,
    Proc,
    default_kafka_bootstrap,
    default_pg_port,
    free_port,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s per API (50)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up (3)")
    parser.add_argument(
        "--compare",
        metavar="REV",
        help="also run the API of git revision REV (e.g. main) beside the current one",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-logs", action="store_true", help="keep the subprocess logs")


@dataclass
class Shot:
    scheduled: float
    at: float = 0.0
    answered: float = 0.0
    status: int = 0
    phases: dict[str, float] | None = None  # the API's Server-Timing of its 202 (ms)


@dataclass
class Side:
    label: str
    url: str
    proc: Proc
    shots: list[Shot] = field(default_factory=list)

    def report(self, cpu: dict[str, Any]) -> dict[str, Any]:
        ok = [s for s in self.shots if s.status == 202]
        out: dict[str, Any] = {"api": self.label, "sent": len(self.shots), "accepted": len(ok)}
        out["errors"] = len(self.shots) - len(ok)
        statuses: dict[str, int] = {}
        for s in self.shots:
            if s.status != 202:
                name = "no answer" if s.status == -1 else str(s.status)
                statuses[name] = statuses.get(name, 0) + 1
        out["error_statuses"] = statuses
        out.update(
            {f"intake_{k}": v for k, v in summarize([s.answered - s.scheduled for s in ok]).items()}
        )
        out.update({f"sent_{k}": v for k, v in summarize([s.answered - s.at for s in ok]).items()})
        late = summarize([s.at - s.scheduled for s in self.shots])
        out["generator_lateness_p50_ms"] = late["p50_ms"]
        out["generator_lateness_p99_ms"] = late["p99_ms"]
        out["api_cpu_ms_per_request"] = cpu
        # Where each 202's time went (the bench's API runs with DISPATCH_SERVER_TIMING; a
        # `--compare` revision without it reports None).
        out["phases"] = phases_summary([(s.phases, s.answered - s.at) for s in ok])
        return out


async def _post(client: HttpClient, p: Prepared, shot: Shot) -> None:
    shot.at = time.monotonic()
    try:
        r = await client.post("/v1/requests", p.body, p.headers)
        shot.status = r.status_code
        if r.status_code == 202:
            shot.phases = server_timing.parse(r.headers.get("server-timing")) or None
    except (HttpError, TimeoutError, OSError):
        shot.status = -1
    shot.answered = time.monotonic()


def side_for(i: int, sides: int) -> int:
    """Request i's API: each gets every `sides`-th request, and which goes first in each
    round rotates (0,1 then 1,0 for two), so neither always follows the other."""
    return (i + i // sides) % sides


async def offer(sides: list[tuple[Side, HttpClient]], bodies: list[Prepared], rate: float) -> None:
    """Open loop: request i leaves at t0 + i / (rate × sides) (`pacer.py`: on time, not
    up to a millisecond late as asyncio's timers are), to `side_for(i, sides)`."""
    n = len(sides)
    tasks: set[asyncio.Task[None]] = set()
    async with pacing(rate * n, len(bodies)) as pacer:
        while (due_at := await pacer.next()) is not None:
            i, due = due_at
            side, client = sides[side_for(i, n)]
            shot = Shot(scheduled=due)
            side.shots.append(shot)
            task = asyncio.create_task(_post(client, bodies[i], shot))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=30)


async def _start_api(stack: LocalStack, name: str, cwd: Path | None) -> Side:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = stack.env(DISPATCH_API_PORT=str(port), DISPATCH_PUBLIC_BASE_URL=url)
    proc = stack.spawn(name, "api", env=env, cwd=cwd)
    await stack.wait_ready(proc, url=url)
    return Side(name, url, proc)


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    city = build_city(2, 10, args.seed)
    stack = bench_stack(
        kafka_bootstrap=default_kafka_bootstrap(),
        pg_port=default_pg_port(),
        partitions=4,
        plan_time_scale=1.0,
        communities=city.communities,
    )
    stack.extra_env["DISPATCH_RECONCILE_ENABLED"] = "false"  # no worker: nothing is recorded
    out: dict[str, Any] = {"bench": "intake", "rate_per_api": args.rate}
    try:
        await stack.create()
        assert stack.bot is not None
        (stack.root / "bots.json").write_text(json.dumps(stack.bot.bots_file_doc(city.communities)))
        sides = [await _start_api(stack, "current", None)]
        if args.compare:
            commit = resolve(args.compare)
            out["baseline_rev"] = commit
            sides.append(await _start_api(stack, "baseline", extract(commit, tmp)))
        factory = RequestFactory(city, args.seed, BOT_ID, stack.ns)
        n = len(sides)
        warm, _ = prepare(factory, BOT_SECRET, BOT_ID, int(args.rate * args.warmup) * n)
        bodies, exhausted = prepare(factory, BOT_SECRET, BOT_ID, int(args.rate * args.duration) * n)
        out["keys_exhausted"] = exhausted
        stats = read_stats()
        roots = {s.label: s.proc.popen.pid for s in sides}
        for name, port in (
            ("broker", int(stack.kafka_bootstrap.rsplit(":", 1)[1])),
            ("postgresql", stack.pg_port),
        ):
            pid = listening_pid(port, stats)
            if pid is not None:
                roots[name] = pid
        # The load generator's own minimal HTTP/1.1 client (e2e_http): httpx spent over a
        # millisecond of CPU per POST on the same two cores as the APIs it measures.
        clients = [HttpClient(s.url, max_connections=64, timeout=30) for s in sides]
        async with contextlib.AsyncExitStack() as closing:
            for c in clients:
                closing.push_async_callback(c.aclose)
            pairs = list(zip(sides, clients, strict=True))
            await offer(pairs, warm, args.rate)
            for s in sides:
                s.shots.clear()
            meter = CpuMeter(roots)
            before = meter.sample()
            await offer(pairs, bodies, args.rate)
            after = meter.sample()
        hz = tick_hz()
        out["apis"] = []
        for s in sides:
            ok = sum(1 for shot in s.shots if shot.status == 202)
            cpu = cpu_ms_per_request(
                {s.label: before.get(s.label, 0)}, {s.label: after.get(s.label, 0)}, ok, hz
            )["total"]
            out["apis"].append(s.report({"ms": cpu}))
        shared = {
            k: v for k, v in before.items() if k in ("broker", "postgresql", "load_generator")
        }
        total_ok = sum(r["accepted"] for r in out["apis"])
        out["shared_cpu_ms_per_request"] = cpu_ms_per_request(
            shared, {k: after[k] for k in shared if k in after}, total_ok, hz
        )["per_process"]
        current = out["apis"][0]
        out["intake_p50_ms"] = current["intake_p50_ms"]
        out["intake_p99_ms"] = current["intake_p99_ms"]
    finally:
        out["cleanup"] = await stack.cleanup(keep_logs=args.keep_logs)
    return out


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['api']:>9}: intake p50 {r['intake_p50_ms']} ms, p99 {r['intake_p99_ms']} ms "
        f"(from send: p50 {r['sent_p50_ms']}, p99 {r['sent_p99_ms']}; generator late: "
        f"p50 {r['generator_lateness_p50_ms']}, p99 {r['generator_lateness_p99_ms']}); "
        f"API CPU {r['api_cpu_ms_per_request']['ms']} ms/request; "
        f"{r['accepted']}/{r['sent']} accepted\n           {phases_line(r.get('phases'))}"
    )


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    if args.json:
        print(json.dumps(result), flush=True)
        return 0
    if "baseline_rev" in result:
        print(f"baseline: {result['baseline_rev'][:9]}; {result['rate_per_api']:.0f} req/s each")
    for r in result.get("apis", []):
        print(_line(r))
    shared = result["shared_cpu_ms_per_request"]
    print(f"   shared: broker, PostgreSQL, load generator CPU ms/request {shared}")
    return 0 if result.get("apis") else 1
