"""`python -m dispatcher bench e2e`: end-to-end latency and throughput on the real local
Kafka and PostgreSQL, in an isolated namespace, with the worker(s) and the API as
subprocesses. A measurement: it prints numbers and asserts nothing.

Phases: set-up → floor (raw Kafka round trip) → helpers loaded through the admin API →
fixed offered rates (intake → first offer on Kafka, intake → push at the local receiver,
HTTP 202, deadline lateness) → throughput ceiling with one worker, then with two → clean-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dispatcher.bench.e2e_city import RequestFactory, build_city
from dispatcher.bench.e2e_cpu import (
    CpuMeter,
    cpu_ms_per_request,
    listening_pid,
    read_stats,
    tick_hz,
)
from dispatcher.bench.e2e_floor import measure_floor
from dispatcher.bench.e2e_load import RunResult, offer_load, prepare
from dispatcher.bench.e2e_observe import Observer
from dispatcher.bench.e2e_stack import (
    BOT_ID,
    BOT_SECRET,
    STAFF_TOKEN,
    bench_stack,
    profile,
    push_to,
)
from dispatcher.bench.e2e_stats import headline, summarize
from dispatcher.partitioning import spread

MAX_RATE = 5000.0


@dataclass(frozen=True)
class Options:
    communities: int = 6
    helpers_per_community: int = 200
    seed: int = 7
    rates: tuple[float, ...] = (50.0, 200.0, 500.0)
    duration: float = 10.0
    probe_duration: float = 5.0
    probes: int = 5  # per ceiling search
    two_workers: bool = True
    ceiling: bool = True
    partitions: int = 8
    # "spread": an explicit community → partition table (dispatcher/partitioning.py);
    # "hash": Kafka's murmur2 of the community id (four of six communities on one partition).
    partition_table: str = "spread"
    plan_time_scale: float = 0.1
    floor_count: int = 1000
    floor_rate: float = 200.0
    max_in_flight: int = 256
    drain_s: float = 10.0
    settle_s: float = 60.0  # at most this long between phases for the worker to catch up
    push_concurrency: int = 16
    push_batch: int = 32  # deliveries per webhook POST at most (1: one POST per delivery)
    kafka_bootstrap: str = "127.0.0.1:" + os.environ.get("DISPATCH_KAFKA_PORT", "19092")
    pg_port: int = int(os.environ.get("DISPATCH_PG_PORT", "55432"))
    profile_dir: Path | None = None
    keep_logs: bool = False
    quick: bool = False

    @classmethod
    def quick_defaults(cls, **overrides: Any) -> Options:
        base: dict[str, Any] = {
            "communities": 2,
            "helpers_per_community": 100,
            "rates": (50.0, 100.0),  # 50/s: the rate intake_p50_ms/p99_ms are quoted at
            "duration": 4.0,
            "probe_duration": 3.0,
            "probes": 1,
            "floor_count": 300,
            "drain_s": 5.0,
            "settle_s": 20.0,
            "quick": True,
        }
        base.update(overrides)
        return cls(**base)


class Progress:
    """One live line on stderr (a terminal), or a line every 2 s (a pipe or a file)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()
        self._last = 0.0
        self._live = False

    def phase(self, text: str) -> None:
        self._clear()
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", file=sys.stderr, flush=True)

    def __call__(self, text: str) -> None:
        line = f"[{time.monotonic() - self.t0:6.1f}s]   {text}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
            sys.stderr.flush()
            self._live = True
        elif time.monotonic() - self._last > 2.0:
            self._last = time.monotonic()
            print(line, file=sys.stderr, flush=True)

    def _clear(self) -> None:
        if self._live:
            sys.stderr.write("\r" + " " * 150 + "\r")
            self._live = False


def machine_info() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    with contextlib.suppress(ValueError, OSError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def next_probe(lo: float, hi: float | None, start: float) -> float | None:
    """The next rate to try, knowing `lo` is sustainable (0: none known) and `hi` is not
    (None: none known): double upwards until a failure, then bisect to within 10 %."""
    if hi is None:
        rate = lo * 2 if lo else start
        return rate if rate <= MAX_RATE else None
    if hi - lo <= 0.1 * hi:
        return None
    return float(round((lo + hi) / 2))


def community_partitions(
    communities: list[str], partitions: int, table: dict[str, int] | None = None
) -> dict[str, int]:
    """Where each community's commands go: the table's partition, else Kafka's murmur2 of
    the community id (with few communities that leaves the partitions, and so the workers,
    uneven)."""
    from dispatcher.partitioning import CommunityPartitioner

    part = CommunityPartitioner(table or {})
    every = list(range(partitions))
    return {c: part(c.encode(), every, every) for c in communities}


class Bench:
    def __init__(self, opts: Options, progress: Progress) -> None:
        self.o = opts
        self.p = progress
        self.city = build_city(opts.communities, opts.helpers_per_community, opts.seed)
        self.partition_table = (
            spread(self.city.communities, opts.partitions)
            if opts.partition_table == "spread"
            else None
        )
        self.stack = bench_stack(
            kafka_bootstrap=opts.kafka_bootstrap,
            pg_port=opts.pg_port,
            partitions=opts.partitions,
            plan_time_scale=opts.plan_time_scale,
            communities=self.city.communities,
            partition_table=self.partition_table,
        )
        self.observer = Observer(
            opts.kafka_bootstrap, self.stack.topic("events"), self.stack.topic("commands")
        )
        self.factory = RequestFactory(self.city, opts.seed, BOT_ID, self.stack.ns)
        self.scenarios: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.servers: dict[str, int] = {}  # broker, postgresql: pid of the listening process

    # ------------------------------------------------------------------ phases
    async def load_helpers(self, client: httpx.AsyncClient) -> float:
        total = len(self.city.helpers)
        sem = asyncio.Semaphore(32)
        done = 0
        failed: list[str] = []
        headers = {"Authorization": f"Bearer {STAFF_TOKEN}"}

        async def put(body: dict[str, Any]) -> None:
            nonlocal done
            async with sem:
                for attempt in range(3):
                    try:
                        r = await client.put(
                            f"/v1/admin/helpers/{body['helper_id']}", json=body, headers=headers
                        )
                        if r.status_code == 202:
                            break
                        err = f"{r.status_code} {r.text[:120]}"
                    except httpx.HTTPError as exc:
                        err = type(exc).__name__
                    await asyncio.sleep(0.5 * (attempt + 1))
                else:
                    failed.append(f"{body['helper_id']}: {err}")
                done += 1
                self.p(f"helpers: {done}/{total} PUT")

        t = time.monotonic()
        await asyncio.gather(*(put(h) for h in self.city.helpers))
        if failed:
            raise RuntimeError(f"{len(failed)} helpers not accepted, e.g. {failed[:3]}")
        return time.monotonic() - t

    async def wait_workers(
        self, client: httpx.AsyncClient, timeout: float = 180
    ) -> list[dict[str, Any]]:
        """Until every worker serves /stats, the partitions are all owned and the workers
        hold every helper."""
        want = len(self.city.helpers)
        deadline = time.monotonic() + timeout
        stats: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            for w in self.stack.workers():
                if not w.alive():
                    raise RuntimeError(f"{w.name} exited:\n{w.log_tail()}")
            got = [await self.stack.worker_stats(w, client) for w in self.stack.workers()]
            stats = [s for s in got if s is not None]
            helpers = sum(s["helpers"] for s in stats)
            parts = sorted(p for s in stats for p in s["partitions"])
            self.p(
                f"waiting for {len(got)} worker(s): helpers {helpers}/{want}, partitions {parts}"
            )
            if (
                len(stats) == len(got)
                and helpers >= want
                and parts == list(range(self.o.partitions))
                and all(s["partitions"] for s in stats)
            ):
                return stats
            await asyncio.sleep(0.5)
        tails = "\n".join(f"--- {w.name}:\n{w.log_tail(60)}" for w in self.stack.workers())
        raise TimeoutError(f"workers not ready in {timeout} s: {stats}\n{tails}")

    async def close_requests(self, client: httpx.AsyncClient, result: RunResult, label: str) -> int:
        """Cancel (as staff) every request the run opened: nobody accepts in this bench, so
        open requests would otherwise go on escalating and load the phases that follow."""
        ids = [s.request_id for s in result.accepted() if s.request_id]
        sem = asyncio.Semaphore(32)
        headers = {"Authorization": f"Bearer {STAFF_TOKEN}"}
        done = 0
        deadline = time.monotonic() + 120

        async def cancel(rid: str) -> None:
            nonlocal done
            async with sem:
                if time.monotonic() > deadline:
                    return
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(
                        f"/v1/requests/{rid}/cancel",
                        json={"request_id": rid, "reason": "bench phase over"},
                        headers=headers,
                    )
                done += 1
                self.p(f"{label}: cancelling the run's requests {done}/{len(ids)}")

        await asyncio.gather(*(cancel(r) for r in ids))
        return done

    async def settle(self, label: str) -> dict[str, Any]:
        """Wait (bounded) until the workers have caught up with the commands and events
        topics, so one phase's backlog does not count against the next."""
        t = time.monotonic()
        lag = None
        while time.monotonic() - t < self.o.settle_s:
            lag = await asyncio.to_thread(self.observer.lag, self.stack.app_id)
            self.p(f"{label}: waiting for the worker to catch up, backlog {lag} messages")
            if lag is not None and lag <= 20:
                break
            await asyncio.sleep(0.5)
        waited = round(time.monotonic() - t, 1)
        if lag is None or lag > 20:
            self.notes.append(f"before {label}: backlog still {lag} messages after {waited} s")
        return {"backlog_at_start": lag, "settle_wait_s": waited}

    async def run_rate(
        self, client: httpx.AsyncClient, rate: float, duration: float, label: str
    ) -> RunResult:
        n = max(1, round(rate * duration))
        settled = await self.settle(label) if label != "warm-up" else {}
        prepared, exhausted = prepare(self.factory, BOT_SECRET, BOT_ID, n)
        if exhausted:
            self.notes.append(f"{label}: distinct incident keys ran out after {len(prepared)}")
        if not prepared:
            return RunResult(offered_rate=rate, planned=0, keys_exhausted=True)
        meter = self.cpu_meter()
        cpu0 = meter.sample()
        t_start = time.monotonic()
        result = await offer_load(
            client,
            prepared,
            rate,
            duration,
            self.observer,
            max_in_flight=self.o.max_in_flight,
            drain_s=self.o.drain_s,
            progress=self.p,
            label=label,
            keys_exhausted=exhausted,
        )
        result.window = (t_start, time.monotonic())
        result.cpu = cpu_ms_per_request(cpu0, meter.sample(), len(result.accepted()), tick_hz())
        result.settled = settled
        await self.close_requests(client, result, label)
        if result.stopped_early:
            self.notes.append(f"{label}: sending stopped early ({result.stopped_early})")
        return result

    def find_servers(self) -> None:
        """The broker (the Java process) and PostgreSQL's postmaster, by their ports."""
        stats = read_stats()
        port = int(self.o.kafka_bootstrap.rsplit(":", 1)[1])
        for name, found in (
            ("broker", listening_pid(port, stats)),
            ("postgresql", listening_pid(self.o.pg_port, stats)),
        ):
            if found is None:
                self.notes.append(f"cpu: no process found listening for the {name}")
            else:
                self.servers[name] = found

    def cpu_meter(self) -> CpuMeter:
        roots = dict(self.servers)
        for proc in self.stack.procs:
            if proc.alive():
                roots[proc.name] = proc.popen.pid
        return CpuMeter(roots, receiver_tid=self.observer.thread_id)

    def describe(self, result: RunResult, workers: int, kind: str) -> list[dict[str, Any]]:
        obs = self.observer.obs
        first = result.scenario("intake_to_first_offer", obs.offer_event_at)
        phone = result.scenario("intake_to_phone", obs.offer_push_at)
        http = result.http_scenario()
        t0, t1 = result.window
        late = [s for at, s in list(obs.lateness) if t0 <= at <= t1]
        lateness: dict[str, Any] = {
            "name": "deadline_lateness",
            "offered_rate": result.offered_rate,
        }
        lateness.update(summarize(late))
        lateness.update({"rate": round(len(late) / (t1 - t0), 1), "count": len(late)})
        # The notify agent alone: the offer event's time in the worker → the phone's receipt.
        ids = [x.request_id for x in result.accepted()]
        hop = [
            obs.offer_push_wall[r] - obs.offer_occurred[r]
            for r in ids
            if r in obs.offer_push_wall and r in obs.offer_occurred
        ]
        notify: dict[str, Any] = {
            "name": "offer_sent_to_phone",
            "offered_rate": result.offered_rate,
        }
        notify.update(summarize(hop))
        notify.update({"rate": round(len(hop) / (t1 - t0), 1), "count": len(hop)})
        out = [first, phone, notify, http, lateness]
        first["cpu_ms_per_request"] = result.cpu
        for s in out:
            s.update({"workers": workers, "kind": kind, "bench_cpu_s": result.cpu_s})
            s.update(result.settled)
        return out

    async def probe(
        self, client: httpx.AsyncClient, rate: float, workers: int
    ) -> tuple[bool, list[dict[str, Any]]]:
        rate = float(round(rate))
        label = f"ceiling {workers}w @{rate:.0f}/s"
        self.p.phase(f"{label}: {self.o.probe_duration:.0f} s")
        result = await self.run_rate(client, rate, self.o.probe_duration, label)
        ok = result.sustainable(self.observer.obs.offer_event_at)
        described = self.describe(result, workers, "ceiling_probe")
        for s in described:
            s["sustainable"] = ok
        f = described[0]
        self.p.phase(
            f"{label}: {'sustainable' if ok else 'NOT sustainable'} "
            f"(achieved {f['rate']}/s, p99 {f['p99_ms']} ms, missing {f['missing']})"
        )
        await asyncio.sleep(1.0)
        return ok, described

    async def ceiling(
        self, client: httpx.AsyncClient, workers: int, known: list[tuple[float, bool]], start: float
    ) -> dict[str, Any]:
        """Highest sustainable offered rate: double from the best known good rate until a
        failure, then bisect to within 10 %; at most `probes` probes."""
        lo = max((r for r, ok in known if ok), default=0.0)
        hi = min((r for r, ok in known if not ok and r > lo), default=None)
        probes: list[dict[str, Any]] = []
        best: dict[str, Any] | None = None
        for _ in range(self.o.probes):
            rate = next_probe(lo, hi, start)
            if rate is None:
                break
            ok, described = await self.probe(client, rate, workers)
            probes.append(described[0])
            self.scenarios += described
            if ok:
                lo, best = rate, described[0]
            else:
                hi = rate
            if self.factory.keys.remaining < 100:
                self.notes.append("ceiling search stopped: distinct incident keys nearly used up")
                break
        return {
            "workers": workers,
            "rate": lo if lo else None,
            "bracket": [lo, hi],
            "best_probe": best,
            "probes": [
                {
                    k: p[k]
                    for k in ("offered_rate", "rate", "p50_ms", "p99_ms", "missing", "sustainable")
                }
                for p in probes
            ],
        }

    # ------------------------------------------------------------------ the run
    async def run(self) -> dict[str, Any]:
        o, p = self.o, self.p
        out: dict[str, Any] = {"bench": "e2e", "machine": machine_info()}
        cleanup: dict[str, Any] = {}
        t_run = time.monotonic()
        self.observer.start()
        push_to(self.stack, self.observer.url, o.push_concurrency, o.push_batch)
        try:
            p.phase(
                f"namespace {self.stack.ns}: database, topics ({o.partitions} partitions), "
                "migrations"
            )
            await self.stack.create()
            self.observer.start_consumer()
            self.find_servers()
            p.phase(
                f"floor: {o.floor_count} raw produce→consume round trips at {o.floor_rate:.0f}/s"
            )
            floor = await measure_floor(
                o.kafka_bootstrap,
                self.stack.topic("floor"),
                o.partitions,
                o.floor_count,
                o.floor_rate,
                p,
            )
            p.phase(f"floor: p50 {floor['p50_ms']} ms, p99 {floor['p99_ms']} ms")
            p.phase("starting worker-1 and the API")
            self.stack.start_worker("worker-1")
            await self.stack.start_api()
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with (
                httpx.AsyncClient(base_url=self.stack.api_url, timeout=30, limits=limits) as client,
                httpx.AsyncClient() as plain,
            ):
                p.phase(f"loading {len(self.city.helpers)} helpers through the admin API")
                load_s = await self.load_helpers(client)
                await self.wait_workers(plain)
                p.phase(f"helpers loaded in {load_s:.1f} s; worker-1 has them all")

                warm = await self.run_rate(client, 20, 1.5, "warm-up")
                del warm
                known: list[tuple[float, bool]] = []
                for rate in o.rates:
                    p.phase(f"offered {rate:.0f}/s for {o.duration:.0f} s")
                    spies = [
                        profile(proc, o.duration, f"{rate:.0f}rps", o.profile_dir)
                        for proc in self.stack.procs
                        if proc.name in ("worker-1", "api")
                    ]
                    result = await self.run_rate(client, rate, o.duration, f"@{rate:.0f}/s")
                    for spy in spies:
                        if spy is not None:
                            await asyncio.to_thread(spy.wait, 30)
                    described = self.describe(result, 1, "fixed_rate")
                    self.scenarios += described
                    known.append((rate, result.sustainable(self.observer.obs.offer_event_at)))
                    f, ph = described[0], described[1]
                    p.phase(
                        f"@{rate:.0f}/s: achieved {f['rate']}/s, first offer p50 {f['p50_ms']} "
                        f"p99 {f['p99_ms']} ms; phone p99 {ph['p99_ms']} ms; missing {f['missing']}"
                    )
                    await asyncio.sleep(1.0)

                ceilings: dict[str, Any] = {}
                if o.ceiling:
                    start = max(o.rates)
                    ceilings["workers_1"] = await self.ceiling(client, 1, known, start)
                    if o.two_workers:
                        p.phase("starting worker-2 (the partitions split between two workers)")
                        await self.settle("worker-2 start")
                        self.stack.start_worker("worker-2")
                        try:
                            stats = await self.wait_workers(plain, timeout=90)
                        except TimeoutError as exc:
                            self.notes.append(f"two-worker search skipped: {exc}")
                        else:
                            split = {s["worker"]: s["partitions"] for s in stats}
                            p.phase(f"two workers ready: {split}")
                            await self.run_rate(client, 20, 1.5, "warm-up")
                            c1 = ceilings["workers_1"]["rate"] or start
                            before = {s["worker"]: s["commands"] for s in stats}
                            two = await self.ceiling(client, 2, [], c1)
                            two["partition_split"] = split
                            two["commands_per_worker"] = {
                                s["worker"]: s["commands"] - before.get(s["worker"], 0)
                                for w in self.stack.workers()
                                if (s := await self.stack.worker_stats(w, plain)) is not None
                            }
                            ceilings["workers_2"] = two
                out["worker_stats"] = [
                    s
                    for w in self.stack.workers()
                    if (s := await self.stack.worker_stats(w, plain)) is not None
                ]
        finally:
            p.phase("cleaning up: stopping processes, dropping the database, deleting topics")
            self.observer.stop()  # first: its consumer would complain about deleted topics
            cleanup = await self.stack.cleanup(keep_logs=o.keep_logs)

        fixed = [s for s in self.scenarios if s["kind"] == "fixed_rate"]
        for key, c in ceilings.items():
            if c.get("best_probe"):
                s = dict(c["best_probe"])
                s.update({"name": "throughput_ceiling", "kind": "ceiling"})
                self.scenarios.append(s)
            ceilings[key] = c
        out.update(
            {
                "floor_p50_ms": floor["p50_ms"],
                "floor_p99_ms": floor["p99_ms"],
                "floor": floor,
                **headline(fixed, floor, ceilings.get("workers_1", {}).get("rate")),
                "throughput_ceiling_rps_1_worker": ceilings.get("workers_1", {}).get("rate"),
                "throughput_ceiling_rps_2_workers": ceilings.get("workers_2", {}).get("rate"),
                "ceilings": ceilings,
                "scenarios": self.scenarios,
                "city": self.city.summary(),
                "community_partitions": community_partitions(
                    self.city.communities, o.partitions, self.partition_table
                ),
                "settings": self.settings(),
                "observed": {
                    "events": self.observer.obs.events,
                    "commands": self.observer.obs.commands,
                    "pushes": self.observer.obs.pushes,
                },
                "cleanup": cleanup,
                "notes": self.notes,
                "wall_s": round(time.monotonic() - t_run, 1),
            }
        )
        return out

    def settings(self) -> dict[str, Any]:
        o = self.o
        return {
            "quick": o.quick,
            "communities": o.communities,
            "helpers_per_community": o.helpers_per_community,
            "seed": o.seed,
            "rates": list(o.rates),
            "duration_s": o.duration,
            "probe_duration_s": o.probe_duration,
            "probes_per_search": o.probes,
            "two_workers": o.two_workers,
            "partitions": o.partitions,
            "partition_table": o.partition_table,
            "plan_time_scale": o.plan_time_scale,
            "floor_count": o.floor_count,
            "floor_rate": o.floor_rate,
            "max_in_flight": o.max_in_flight,
            "drain_s": o.drain_s,
            "settle_s": o.settle_s,
            "push_endpoint": {
                "kind": "webhook",
                "concurrency": o.push_concurrency,
                "batch_max": o.push_batch,
            },
            "sustainable": "p99 intake→first offer < 1000 ms, ≤1 % missing, ≤1 % HTTP errors, "
            "achieved ≥ 90 % of offered",
            "kafka_bootstrap": o.kafka_bootstrap,
            "pg_port": o.pg_port,
            "namespace": self.stack.ns,
            "profiled": str(o.profile_dir) if o.profile_dir else None,
            "http_client": "one httpx.AsyncClient, keep-alive, 64 connections, open loop",
        }


# ---------------------------------------------------------------------- output
def intake_line(r: dict[str, Any]) -> str:
    open_loop = f"p50 {r['intake_p50_ms']} ms, p99 {r['intake_p99_ms']} ms"
    sent = f"p50 {r['intake_sent_p50_ms']} ms, p99 {r['intake_sent_p99_ms']} ms"
    return f"intake (HTTP 202) at {r['intake_offered_rate']}/s: {open_loop} (from the send: {sent})"


def cpu_line(cpu: dict[str, Any] | None) -> str:
    if not cpu:
        return "CPU per request: not measured"
    per = ", ".join(f"{k} {v}" for k, v in cpu["per_process"].items())
    return f"CPU ms per dispatched request at {cpu['offered_rate']:.0f}/s: {cpu['total']} ({per})"


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"bench e2e — {m['cores']} cores ({m['cpu_model']}), python {m['python']}, "
        f"{result['wall_s']} s",
        f"floor (raw Kafka produce→consume, acks=all): p50 {result['floor_p50_ms']} ms, "
        f"p99 {result['floor_p99_ms']} ms",
        f"intake→first offer at the lowest rate over the floor: p50 ×{result['e2e_p50_over_floor']}"
        f", p99 ×{result['e2e_p99_over_floor']} (from the actual send: "
        f"p99 ×{result['e2e_p99_over_floor_sent']})",
        intake_line(result),
        cpu_line(result["cpu_ms_per_request"]),
        "latencies are open loop: from each request's scheduled time",
        "",
        f"{'scenario':<24}{'wk':>3}{'offered/s':>10}{'rate/s':>9}{'count':>7}"
        f"{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'miss':>6}",
    ]

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.1f}"

    for s in result["scenarios"]:
        name = s["name"] if s["kind"] != "ceiling_probe" else f"probe:{s['name']}"
        if s["kind"] == "ceiling_probe" and s["name"] != "intake_to_first_offer":
            continue
        lines.append(
            f"{name[:24]:<24}{s['workers']:>3}{s['offered_rate']:>10.0f}{s['rate']:>9.1f}"
            f"{s['count']:>7}{fmt(s['p50_ms']):>10}{fmt(s['p99_ms']):>10}{fmt(s['max_ms']):>10}"
            f"{s.get('missing', ''):>6}"
        )
    lines.append("")
    lines.append(
        f"throughput ceiling (p99 first offer < 1 s): 1 worker "
        f"{result['throughput_ceiling_rps_1_worker']} req/s, 2 workers "
        f"{result['throughput_ceiling_rps_2_workers']} req/s"
    )
    two = result["ceilings"].get("workers_2") or {}
    if two.get("commands_per_worker"):
        lines.append(
            f"two workers ({result['settings']['partition_table']} partition table): "
            f"commands per worker {two['commands_per_worker']}, "
            f"partitions {two.get('partition_split')}"
        )
    for ws in result.get("worker_stats", []):
        lines.append(
            f"{ws['worker']}: partitions {ws['partitions']}, commands {ws['commands']}, "
            f"events {ws['events']}, dead letters {ws['dead_letters']}, "
            f"deadline lateness (worker, s) {ws['deadline_lateness_s']}"
        )
    c = result["cleanup"]
    lines.append(
        f"clean-up: database {'dropped' if 'database_dropped' in c else 'LEFT'}, "
        f"{len(c.get('topics_deleted', []))} topics deleted, left: {c.get('topics_left') or 'none'}"
    )
    for n in result["notes"]:
        lines.append(f"note: {n}")
    return "\n".join(lines)


def options_from(args: argparse.Namespace) -> Options:
    given = {
        k: v
        for k, v in {
            "communities": args.communities,
            "helpers_per_community": args.helpers_per_community,
            "seed": args.seed,
            "rates": tuple(args.rates) if args.rates else None,
            "duration": args.duration,
            "probe_duration": args.probe_duration,
            "probes": args.probes,
            "partitions": args.partitions,
            "partition_table": args.partition_table,
            "push_batch": args.push_batch,
            "plan_time_scale": args.plan_time_scale,
            "profile_dir": Path(args.profile) if args.profile else None,
        }.items()
        if v is not None
    }
    if args.no_ceiling:
        given["ceiling"] = False
    if args.one_worker:
        given["two_workers"] = False
    given["keep_logs"] = args.keep_logs
    return Options.quick_defaults(**given) if args.quick else Options(**given)


def main(args: argparse.Namespace) -> int:
    import json

    opts = options_from(args)
    bench = Bench(opts, Progress())
    result = asyncio.run(bench.run())
    if args.json:
        print(json.dumps(result, ensure_ascii=False), flush=True)
    else:
        print(table(result), flush=True)
    return 0
