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
import sys
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx

from dispatcher.bench import goals, machine_speed
from dispatcher.bench.e2e_city import RequestFactory, build_city
from dispatcher.bench.e2e_cpu import (
    cpu_ms_per_request,
    process_age_s,
    tick_hz,
)
from dispatcher.bench.e2e_floor import lower_floor, measure_floor, unsteady, warmup_count
from dispatcher.bench.e2e_http import HttpClient
from dispatcher.bench.e2e_load import RunResult, offer_load, prepare
from dispatcher.bench.e2e_observe import Observer
from dispatcher.bench.e2e_options import (
    Options,
    Progress,
    community_partitions,
    machine_info,
)
from dispatcher.bench.e2e_pg import HOW_TO_ENABLE, StatementMeter, per_request, pg_lines
from dispatcher.bench.e2e_report import census_line, phases_line, table
from dispatcher.bench.e2e_stack import (
    BOT_ID,
    BOT_SECRET,
    bench_stack,
    profile,
    push_to,
    py_spy,
)
from dispatcher.bench.e2e_stats import gc_figures, headline, loop_census_between
from dispatcher.bench.e2e_steps import BenchSteps
from dispatcher.partitioning import spread


class Bench(BenchSteps):
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
            code_dir=opts.code_dir,
            loop_census_ms=opts.loop_census_ms,
            extra_env=opts.extra_env,
        )
        self.observer = Observer(
            opts.kafka_bootstrap, self.stack.topic("events"), self.stack.topic("commands")
        )
        self.factory = RequestFactory(self.city, opts.seed, BOT_ID, self.stack.ns)
        self.scenarios: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.servers: dict[str, int] = {}  # broker, postgresql: pid of the listening process
        self.pg: StatementMeter | None = (
            StatementMeter(self.stack.pg_dsn) if opts.pg_statements > 0 else None
        )
        self.last_pg: dict[str, Any] | None = None  # the last run's statements per request
        self.loader: HttpClient | None = None  # the offered load's client (set up in `run`)

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
        pg0 = await self.pg.snapshot() if self.pg is not None else None
        census0 = await self.loop_census(client)
        cpu0 = meter.sample()
        t_start = time.monotonic()
        assert self.loader is not None
        result = await offer_load(
            self.loader,
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
        result.cpu = cpu_ms_per_request(
            cpu0, meter.sample(), len(result.accepted()), tick_hz(), self.cpu_groups()
        )
        if (census := await self.loop_census(client)) is not None:
            # The load and its drain, as the CPU figures (not the requests' closing); read
            # after their sample: the page costs the worker CPU.
            held = loop_census_between(census, census0)
            result.loop_census = {"min_ms": census["min_ms"], "callbacks": held}
        if self.pg is not None and pg0 is not None:
            after = await self.pg.snapshot()
            self.last_pg = per_request(pg0, after, len(result.accepted()), self.o.pg_statements)
        result.settled = settled
        await self.close_requests(client, result, label)
        await self.recycle_keys(result, prepared, label)
        if result.stopped_early:
            self.notes.append(f"{label}: sending stopped early ({result.stopped_early})")
        return result

    async def run(self) -> dict[str, Any]:
        o, p = self.o, self.p
        out: dict[str, Any] = {"bench": "e2e", "machine": machine_info()}
        cleanup: dict[str, Any] = {}
        floor_after: dict[str, Any] | None = None
        t_run = time.monotonic()
        # Before anything of the run starts: the machine's speed at this moment, to read
        # this run's figures against another day's (`machine_speed`).
        p.phase("machine speed: a fixed Python workload, a loopback ping-pong")
        speed = out["machine"]["speed"] = await asyncio.to_thread(machine_speed.measure)
        p.phase(machine_speed.line(speed))
        self.observer.start()
        push_to(self.stack, self.observer.url, o.push_concurrency, o.push_batch)
        try:
            p.phase(
                f"namespace {self.stack.ns}: database, topics ({o.partitions} partitions), "
                "migrations"
            )
            await self.stack.create()
            if self.pg is not None and not await self.pg.enable():
                self.notes.append(HOW_TO_ENABLE)
                self.pg = None
            self.observer.start_consumer()
            self.find_servers()
            floor = await self.floor("floor")
            p.phase("starting worker-1 and the API")
            self.stack.start_worker("worker-1")
            await self.stack.start_api()
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with (
                httpx.AsyncClient(base_url=self.stack.api_url, timeout=30, limits=limits) as client,
                httpx.AsyncClient() as plain,
                aclosing(
                    HttpClient(self.stack.api_url, max_connections=64, timeout=30)
                ) as self.loader,
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
                    if self.pg is not None:
                        described[0]["pg_statements"] = self.last_pg
                        for line in pg_lines(self.last_pg, 3):
                            p.phase(f"@{rate:.0f}/s: {line}")
                    if result.loop_census is not None:
                        described[0]["loop_census"] = result.loop_census
                        p.phase(f"@{rate:.0f}/s: {census_line(result.loop_census)}")
                    self.scenarios += described
                    known.append((rate, result.sustainable(self.observer.obs.offer_event_at)))
                    f, ph, after = described[0], described[1], described[2]
                    p.phase(
                        f"@{rate:.0f}/s: achieved {f['rate']}/s, first offer p50 {f['p50_ms']} "
                        f"p99 {f['p99_ms']} ms (after the 202: p50 {after['p50_ms']} p99 "
                        f"{after['p99_ms']}); phone p99 {ph['p99_ms']} ms; not served "
                        f"{f['unserved']} of {f['count']} (missing {f['missing']})"
                    )
                    stamped, seen = described[6], described[7]
                    p.phase(
                        f"@{rate:.0f}/s: after the 202, the worker's events record stamped p50 "
                        f"{stamped['p50_ms']} p99 {stamped['p99_ms']} ms, then read by the bench "
                        f"p50 {seen['p50_ms']} p99 {seen['p99_ms']} ms (Kafka timestamps: ±1 ms)"
                    )
                    p.phase(f"@{rate:.0f}/s: {phases_line(described[4].get('phases'))}")
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
                out.update(gc_figures(out["worker_stats"]))
                # Again with the broker warm from the run (the lower p99 is the one used), and
                # like the first: without the worker(s) and the API, whose drain would be in it.
                for proc in self.stack.procs:
                    await asyncio.to_thread(proc.stop)
                try:
                    floor_after = await self.floor("floor-after", warm_young=False)
                except Exception as exc:  # the run's figures stand; the first floor is used
                    self.notes.append(f"second floor not measured: {type(exc).__name__}: {exc}")
        finally:
            p.phase("cleaning up: stopping processes, dropping the database, deleting topics")
            self.observer.stop()  # first: its consumer would complain about deleted topics
            cleanup = await self.stack.cleanup(keep_logs=o.keep_logs)
        # Again once the run's processes are gone: the host's speed moves within minutes
        # (`machine_speed`), and a run whose two readings differ ran on two machines.
        speed["python_ms_after"] = await asyncio.to_thread(machine_speed.python_ms)
        p.phase(f"machine speed after the run: Python workload {speed['python_ms_after']} ms CPU")

        fixed = [s for s in self.scenarios if s["kind"] == "fixed_rate"]
        used, which = lower_floor(floor, floor_after)
        floor_note = unsteady(used)
        if floor_note is not None:
            self.notes.append(floor_note)
        for key, c in ceilings.items():
            if c.get("best_probe"):
                s = dict(c["best_probe"])
                s.update({"name": "throughput_ceiling", "kind": "ceiling"})
                self.scenarios.append(s)
            ceilings[key] = c
        out.update(
            {
                "floor_p50_ms": used["p50_ms"],
                "floor_p99_ms": used["p99_ms"],
                "floor": floor,
                "floor_after": floor_after,
                "floor_used": which,
                # Set when the floor used was unsteady: its ratio then judges no goal.
                "floor_unsteady": floor_note,
                **headline(fixed, used, ceilings.get("workers_1", {}).get("rate")),
                "throughput_ceiling_rps_1_worker": ceilings.get("workers_1", {}).get("rate"),
                "throughput_ceiling_rps_2_workers": ceilings.get("workers_2", {}).get("rate"),
                "ceilings": ceilings,
                "scenarios": self.scenarios,
                "city": self.city.summary(),
                # Keys handed back once their requests were closed, for later runs to use.
                "incident_keys_recycled": self.factory.keys.released,
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
        out["goals"] = goals.e2e(out, self.o.scenario_changes())
        return out

    async def floor(self, name: str, warm_young: bool = True) -> dict[str, Any]:
        """Kafka's own produce → consume round trips on a topic of this namespace; a young
        broker is warmed first (`e2e_floor.YOUNG_BROKER_S`) unless the run has (`warm_young`)."""
        o, p = self.o, self.p
        pid = self.servers.get("broker")
        age = process_age_s(pid) if pid is not None else None
        warm = warmup_count(o.floor_rate, age, o.young_broker_warmup_s) if warm_young else None
        if warm is not None and age is not None:
            p.phase(
                f"the broker started {age:.0f} s ago: warming it with "
                f"{o.young_broker_warmup_s:.0f} s of round trips first (a fresh broker is slow "
                "for its first minute of traffic)"
            )
        p.phase(
            f"{name}: {o.floor_count} raw produce→consume round trips at {o.floor_rate:.0f}/s "
            "after a warm-up"
        )
        floor = await measure_floor(
            o.kafka_bootstrap,
            self.stack.topic(name),
            o.partitions,
            o.floor_count,
            o.floor_rate,
            p,
            warmup=warm,
        )
        floor["broker_age_s"] = None if age is None else round(age, 1)
        p.phase(
            f"{name}: p50 {floor['p50_ms']} ms, p99 {floor['p99_ms']} ms "
            f"(by quarter {floor['p99_by_block_ms']})"
        )
        return floor

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
            "sustainable": "open-loop p99 intake→first offer < 1000 ms over every request "
            "planned (refused, unanswered, unsent or without a first offer: never served), "
            "achieved ≥ 90 % of offered, sending not stopped early",
            "kafka_bootstrap": o.kafka_bootstrap,
            "pg_port": o.pg_port,
            "namespace": self.stack.ns,
            "profiled": str(o.profile_dir) if o.profile_dir else None,
            "http_client": "e2e_http.HttpClient (asyncio + httptools), keep-alive, "
            "64 connections, open loop",
        }


# ---------------------------------------------------------------------- output
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
            "pg_statements": args.pg_statements,
            "loop_census_ms": args.loop_census,
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
    if args.profile and (args.compare or py_spy() is None):
        why = (
            "it samples one tree: run it in each tree's checkout"
            if args.compare
            else "py-spy is not installed: .venv/bin/pip install py-spy"
        )
        print(f"bench e2e: --profile not possible: {why}", file=sys.stderr)
        return 2
    if args.base_env and not args.compare:
        print("bench e2e: --base-env needs --compare REV (HEAD: this code)", file=sys.stderr)
        return 2
    if args.compare:
        from dispatcher.bench.e2e_compare import compare

        result = compare(opts, args.compare, args.rounds, tuple(args.base_env or ()))
        print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0
    bench = Bench(opts, Progress())
    result = asyncio.run(bench.run())
    if args.json:
        print(json.dumps(result, ensure_ascii=False), flush=True)
    else:
        print(table(result), flush=True)
    return 0
