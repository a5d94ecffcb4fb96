"""`bench e2e`: the steps a run is made of (load helpers, wait for workers, settle, close
requests, find the servers, meter CPU, describe a run), apart from the run itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import httpx

from dispatcher.bench.e2e_cpu import (
    CpuMeter,
    listening_pid,
    read_stats,
)
from dispatcher.bench.e2e_load import Prepared, RunResult
from dispatcher.bench.e2e_options import next_probe
from dispatcher.bench.e2e_stack import (
    STAFF_TOKEN,
)
from dispatcher.bench.e2e_stats import summarize
from dispatcher.record.read import requests as read_requests

# How long a run's cancelled requests may take to be recorded closed before their incident
# keys are given up on (the record agent writes them within a second or so, unless backlogged).
KEY_RECYCLE_WAIT_S = 30.0


class BenchSteps:
    # Set by Bench.__init__.
    o: Any
    p: Any
    city: Any
    stack: Any
    factory: Any
    observer: Any
    notes: list[str]
    servers: dict[str, int]

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

    async def loop_census(self, client: httpx.AsyncClient) -> dict[str, Any] | None:
        """worker-1's loop census so far (its /stats), None when off or not serving."""
        if self.o.loop_census_ms <= 0:
            return None
        worker = next((w for w in self.stack.workers() if w.name == "worker-1"), None)
        stats = await self.stack.worker_stats(worker, client) if worker is not None else None
        return stats.get("loop_census") if stats else None

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

    async def recycle_keys(self, result: RunResult, prepared: list[Prepared], label: str) -> None:
        """Hand the run's incident keys back for later runs: at once for the requests never
        sent, and for the accepted ones once the read model has them closed (the API merges a
        report only into an open request of the same building and category, so a closed
        one's key makes a new incident again). Without this a whole run's probes ran out of
        distinct incidents and cut the two-worker ceiling search short. Requests refused,
        merged or unanswered keep their keys (whether they opened anything is not known)."""
        factory = self.factory
        factory.release(p.message_id for p in prepared[len(result.sent) :])
        waiting = {s.request_id: s.message_id for s in result.accepted() if s.request_id}
        if not waiting:
            return
        deadline = time.monotonic() + KEY_RECYCLE_WAIT_S
        conn = await asyncpg.connect(self.stack.pg_dsn)
        try:
            while waiting:
                closed = await read_requests.closed_among(conn, list(waiting))
                factory.release(waiting.pop(rid) for rid in closed)
                if not waiting or time.monotonic() > deadline:
                    break
                self.p(f"{label}: {len(waiting)} requests not yet recorded closed")
                await asyncio.sleep(0.25)
        finally:
            await conn.close()
        if waiting:
            self.notes.append(
                f"{label}: {len(waiting)} requests not recorded closed after "
                f"{KEY_RECYCLE_WAIT_S:.0f} s: their incident keys stay in use"
            )

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

    def cpu_groups(self) -> set[str]:
        """The process groups a CPU figure needs: every worker started, the API, the broker,
        PostgreSQL, and the harness (this process and its receiver thread). One not read
        leaves the totals unjudged (`e2e_cpu.cpu_ms_per_request`), not low."""
        workers = {w.name for w in self.stack.workers()}
        return {"api", "broker", "postgresql", "load_generator", "receiver"} | workers

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
        after = result.answered_scenario("answer_to_first_offer", obs.offer_event_at)
        http = result.http_scenario()
        t0, t1 = result.window
        late = [s for at, s in list(obs.lateness) if t0 <= at <= t1]
        lateness = _samples("deadline_lateness", result, late)
        # The push path alone: the events record that carried the first offer, as the
        # worker's producer stamped it (after the decision; whole milliseconds) → the phone's
        # receipt: the notify agent taking its events (handed over once acknowledged, or read
        # back with DISPATCH_NOTIFY_EARLY off), its planning, the push lane and the POST.
        ids = [x.request_id for x in result.accepted()]
        hop = [
            obs.offer_push_wall[r] - obs.offer_record_created[r]
            for r in ids
            if r in obs.offer_push_wall and r in obs.offer_record_created
        ]
        notify = _samples("offer_record_to_phone", result, hop)
        # The part after the 202 in two, by the Kafka timestamp of the events record that
        # carried the first offer (the worker's producer stamps it as it sends, after the
        # decision; whole milliseconds): the worker's pickup and decision, then the record's
        # hop to this bench's consumer (the worker's notify agent reads the record back too,
        # but pushes before that: streams/notify.py).
        created = {r: t - obs.wall_minus_monotonic for r, t in obs.offer_record_created.items()}
        stamped = result.answered_scenario("answer_to_offer_record", created)
        hop_seen = [obs.offer_event_at[r] - created[r] for r in ids if r in created]
        seen = _samples("offer_record_to_observer", result, hop_seen)
        out = [first, phone, after, notify, http, lateness, stamped, seen]
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
            f"(achieved {f['rate']}/s, p99 {f['p99_ms']} ms, not served {f['unserved']} "
            f"of {f['count']}: missing {f['missing']}, HTTP errors {f['http_errors']})"
        )
        await asyncio.sleep(1.0)
        return ok, described

    async def ceiling(
        self, client: httpx.AsyncClient, workers: int, known: list[tuple[float, bool]], start: float
    ) -> dict[str, Any]:
        """Highest sustainable offered rate: double from the best known good rate until a
        failure, then bisect to within 10 %; at most `probes` probes. 0 when a search (or
        the fixed rates it starts from) ran and no rate held; None only when nothing ran."""
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
            "rate": lo if (probes or known) else None,
            "bracket": [lo, hi],
            "best_probe": best,
            "probes": [
                {
                    k: p.get(k)
                    for k in (
                        "offered_rate",
                        "rate",
                        "p50_ms",
                        "p99_ms",
                        "served_only_p99_ms",
                        "unserved",
                        "missing",
                        "http_errors",
                        "sustainable",
                    )
                }
                for p in probes
            ],
        }

    # ------------------------------------------------------------------ the run


def _samples(name: str, result: RunResult, seconds: list[float]) -> dict[str, Any]:
    """A fixed rate's scenario of samples taken over its window: p50/p99/max, and how many
    per second of the window."""
    t0, t1 = result.window
    out: dict[str, Any] = {"name": name, "offered_rate": result.offered_rate}
    out.update(summarize(seconds))
    out.update({"rate": round(len(seconds) / (t1 - t0), 1), "count": len(seconds)})
    return out
