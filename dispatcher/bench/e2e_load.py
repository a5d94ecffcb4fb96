"""Offered load: signed bot POSTs at a fixed rate through one keep-alive client
(`e2e_http.HttpClient`: a minimal HTTP/1.1 client, so that the load generator takes little
of the CPU it shares with the system it measures).

Open loop (requests leave on a schedule, not when the previous one returns), with a cap on
requests in flight so an overloaded API shows up as a lower achieved rate and long
latencies rather than an unbounded pile of sockets. Latency is measured from each
request's *scheduled* time (t0 + i / rate), so time spent waiting for the in-flight cap or
for a late event loop counts (no coordinated omission); the latency from the moment it was
actually sent is reported beside it (`sent_*`), and so is how late the generator itself
handed each request to its HTTP client (`generator_lateness_*`: its pacing thread's
wake-up, `pacer.py`; in overload also the wait for the in-flight cap). The percentiles are
over every request planned: one refused, unanswered, never sent or never served (no first
offer) counts as never served (`NEVER`, +inf), so failures cannot leave a probe's tail
looking short; `served_only_*` gives the old figures over the served ones alone. Bounded in count
and in time: it sends at most `count` requests, stops sending after `duration × 1.5 + 2` s
whatever happens, and waits at most `drain_s` for the last first offers.

Bodies are serialized and signed before the clock starts (a signature stays valid for 5
minutes): the timed loop only sends.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dispatcher.api import server_timing
from dispatcher.bench.e2e_city import KeysExhaustedError, RequestFactory
from dispatcher.bench.e2e_http import HttpClient, HttpError
from dispatcher.bench.e2e_observe import Observer, signed_headers
from dispatcher.bench.e2e_stats import summarize
from dispatcher.bench.pacer import pacing

SUSTAINABLE_P99_S = 1.0
# The latency of a request never served (refused, unanswered, unsent, no first offer): it
# counts in every percentile, above any served one.
NEVER = math.inf


@dataclass
class Prepared:
    body: bytes
    headers: dict[str, str]
    message_id: str = ""  # the request's `source.message_id`: its incident key's handle


def prepare(
    factory: RequestFactory, secret: str, bot_id: str, n: int
) -> tuple[list[Prepared], bool]:
    """n signed bodies (fewer, and True, when the distinct incident keys ran out)."""
    out: list[Prepared] = []
    now = int(time.time())
    try:
        for _ in range(n):
            payload = factory.make()
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            message_id = payload["source"]["message_id"]
            headers = signed_headers(secret, bot_id, "msg_" + message_id, now, body)
            out.append(Prepared(body, headers, message_id))
    except KeysExhaustedError:
        return out, True
    return out, False


@dataclass
class Sent:
    scheduled: float  # monotonic: when the schedule said it should leave
    at: float  # monotonic: when it actually left (after the in-flight cap)
    status: int = 0
    request_id: str | None = None
    answered_at: float = 0.0
    merged: bool = False
    error: str | None = None
    phases: dict[str, float] | None = None  # the API's Server-Timing of its 202 (ms)
    message_id: str = ""  # its `Prepared.message_id`


@dataclass
class RunResult:
    offered_rate: float
    planned: int
    sent: list[Sent] = field(default_factory=list)
    send_window_s: float = 0.0
    keys_exhausted: bool = False
    cpu_s: float = 0.0  # the bench process's own CPU during the run (load + observer)
    cpu: dict[str, Any] = field(default_factory=dict)  # cpu_ms_per_request, per process
    window: tuple[float, float] = (0.0, 0.0)  # monotonic: preparation to end of drain
    stopped_early: str | None = None  # why sending stopped before `planned`
    settled: dict[str, Any] = field(default_factory=dict)  # backlog before the run
    # worker-1's loop census over the run (`--loop-census`): min_ms, callbacks by name.
    loop_census: dict[str, Any] | None = None

    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if _accepted(s)]

    def achieved_rate(self) -> float:
        ok = self.accepted()
        if not ok or self.send_window_s <= 0:
            return 0.0
        return len(ok) / self.send_window_s

    def offered_latencies(
        self, finished: Callable[[Sent], float | None], origin: str
    ) -> list[float]:
        """Seconds from each request's scheduled ("scheduled", open loop: every request
        planned, the unsent ones too) or actual ("sent": every request sent) departure to
        `finished(request)`; NEVER for a request it says was never served (None)."""
        out = []
        for s in self.sent:
            done = finished(s)
            start = s.scheduled if origin == "scheduled" else s.at
            out.append(NEVER if done is None else done - start)
        if origin == "scheduled":
            out += [NEVER] * (self.planned - len(self.sent))
        return out

    def counts(self, served: int) -> dict[str, int]:
        """What became of the requests planned: `served` of them were, the rest not."""
        return {
            "count": self.planned,  # the samples every percentile is over
            "served": served,
            "unserved": self.planned - served,
            "sent": len(self.sent),
            "unsent": self.planned - len(self.sent),
            "http_errors": sum(1 for s in self.sent if s.status != 202),  # timeouts too
            "merged": sum(1 for s in self.sent if s.merged),
        }

    def scenario(self, name: str, arrived: dict[str, float]) -> dict[str, Any]:
        """Intake → `arrived` (first offer event, push, ...) over every request planned; a
        merged report counts as unserved here: it has no first offer of its own."""
        ok = self.accepted()

        def first(s: Sent) -> float | None:
            return arrived.get(s.request_id) if _accepted(s) and s.request_id else None

        lat = self.offered_latencies(first, "scheduled")
        served = sum(1 for x in lat if x != NEVER)
        out: dict[str, Any] = {"name": name, "offered_rate": self.offered_rate}
        out.update(summarize(lat))
        out.update(sent_summary(self.offered_latencies(first, "sent")))
        out.update(served_only(latencies(ok, arrived, "scheduled")))
        out.update(self.generator_lateness())
        out.update(self.counts(served))
        out.update(
            {
                "rate": round(self.achieved_rate(), 1),
                "accepted": len(ok),
                "missing": len(ok) - served,  # accepted, yet no first offer seen
                "stopped_early": self.stopped_early,
            }
        )
        return out

    def answered_scenario(self, name: str, arrived: dict[str, float]) -> dict[str, Any]:
        """From each 202's receipt to the request's arrival (its first offer event): the
        part of intake → first offer after the API answered, i.e. the worker's path and its
        Kafka hops without the API's. Negative when the worker's offer was out before the
        202 reached the load generator (it starts on the command as Kafka acknowledges it).
        A part of the served requests' path, so over those alone: the failures are counted
        in the intake → first offer figures."""
        ok = [s for s in self.accepted() if s.request_id in arrived]
        seconds = [arrived[s.request_id] - s.answered_at for s in ok if s.request_id]
        out: dict[str, Any] = {"name": name, "offered_rate": self.offered_rate}
        out.update(summarize(seconds))
        out.update({"rate": round(self.achieved_rate(), 1), "count": len(seconds)})
        return out

    def http_scenario(self) -> dict[str, Any]:
        """Intake → its 202 over every request planned (a refusal, no answer or no send:
        never served); the phases from the accepted ones."""
        ok = self.accepted()
        out: dict[str, Any] = {"name": "intake_http_202", "offered_rate": self.offered_rate}

        def answered(s: Sent) -> float | None:
            return s.answered_at if s.status == 202 else None

        lat = self.offered_latencies(answered, "scheduled")
        out.update(summarize(lat))
        out.update(sent_summary(self.offered_latencies(answered, "sent")))
        served = {s.request_id: s.answered_at for s in ok if s.request_id}
        out.update(served_only(latencies(ok, served, "scheduled")))
        out.update(self.generator_lateness())
        out.update(self.counts(sum(1 for x in lat if x != NEVER)))
        out["rate"] = round(self.achieved_rate(), 1)
        out["phases"] = intake_phases(ok)
        return out

    def generator_lateness(self) -> dict[str, Any]:
        """p50/p99 ms from each request's scheduled time to the moment the generator handed
        it to its HTTP client (every request sent, answered or not)."""
        late = summarize([s.at - s.scheduled for s in self.sent])
        return {
            "generator_lateness_p50_ms": late["p50_ms"],
            "generator_lateness_p99_ms": late["p99_ms"],
        }

    def sustainable(self, arrived: dict[str, float]) -> bool:
        """Open-loop p99 intake → first offer under SUSTAINABLE_P99_S over every request
        planned (so more than 1 % refused, unanswered, unsent or without a first offer fails
        it), achieved ≥ 90 % of the offered rate, and sending not stopped early."""
        s = self.scenario("probe", arrived)
        if s["p99_ms"] is None:
            return False
        return (
            self.stopped_early is None
            and s["p99_ms"] < SUSTAINABLE_P99_S * 1000
            and s["rate"] >= 0.9 * self.offered_rate
        )


def _accepted(s: Sent) -> bool:
    """Accepted as a new request: a 202 that opened one (not merged into another)."""
    return s.status == 202 and bool(s.request_id) and not s.merged


def intake_phases(ok: list[Sent]) -> dict[str, dict[str, Any]] | None:
    """p50/p99/max ms of each phase the API's `Server-Timing` named (auth, parse, prepare,
    statement, queue, total), and `outside_app`: the rest of each 202's latency from the
    actual send (the load generator's client, the sockets, the HTTP server's parsing and
    the framework's layers above the intake route). None when no answer carried phases
    (the API's setting off, or a revision without it)."""
    return phases_summary([(s.phases, s.answered_at - s.at) for s in ok if s.answered_at])


def phases_summary(
    answers: list[tuple[dict[str, float] | None, float]],
) -> dict[str, dict[str, Any]] | None:
    """`intake_phases` of (phases in ms, seconds from the send to the answer) pairs."""
    timed = [(p, took) for p, took in answers if p and "total" in p]
    if not timed:
        return None
    names = list(dict.fromkeys(name for p, _ in timed for name in p))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        out[name] = summarize([p[name] / 1e3 for p, _ in timed if name in p])
    out["outside_app"] = summarize([took - p["total"] / 1e3 for p, took in timed])
    return out


def latencies(sent: list[Sent], arrived: dict[str, float], origin: str) -> list[float]:
    """Seconds from each request's scheduled ("scheduled", open loop) or actual ("sent")
    departure to its arrival, of those that arrived only (the `served_only_*` figures)."""
    out = []
    for s in sent:
        if s.request_id is not None and s.request_id in arrived:
            start = s.scheduled if origin == "scheduled" else s.at
            out.append(arrived[s.request_id] - start)
    return out


def sent_summary(seconds: list[float]) -> dict[str, Any]:
    """`summarize` of the latencies from the actual send, under `sent_` names."""
    return {f"sent_{k}": v for k, v in summarize(seconds).items()}


def served_only(seconds: list[float]) -> dict[str, Any]:
    """`summarize` of the served requests alone (failures left out), under `served_only_`
    names: beside the figures over every request, never instead of them."""
    return {f"served_only_{k}": v for k, v in summarize(seconds).items()}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def offer_load(
    client: HttpClient,
    prepared: list[Prepared],
    rate: float,
    duration: float,
    observer: Observer,
    *,
    max_in_flight: int = 256,
    drain_s: float = 10.0,
    overload_s: float = 3.0,
    progress: Callable[[str], None] = lambda s: None,
    label: str = "",
    keys_exhausted: bool = False,
) -> RunResult:
    result = RunResult(offered_rate=rate, planned=len(prepared), keys_exhausted=keys_exhausted)
    sem = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task[None]] = set()
    cpu0 = _cpu()

    async def one(p: Prepared, rec: Sent) -> None:
        try:
            rec.at = time.monotonic()
            r = await client.post("/v1/requests", p.body, p.headers)
            rec.answered_at = time.monotonic()
            rec.status = r.status_code
            if r.status_code == 202:
                doc = r.json()
                rec.request_id = doc.get("request_id")
                rec.merged = bool(doc.get("merged"))
                rec.phases = server_timing.parse(r.headers.get("server-timing")) or None
            else:
                rec.error = r.text[:200]
        except (HttpError, TimeoutError, OSError) as exc:
            rec.answered_at = time.monotonic()
            rec.error = type(exc).__name__
        finally:
            sem.release()

    t0 = time.monotonic()
    hard_stop = t0 + duration * 1.5 + 2.0
    last_report = last_check = t0
    oldest = 0  # index of the oldest request not yet answered with a first offer
    offers = observer.obs.offer_event_at
    async with pacing(rate, len(prepared), t0) as pacer:
        while (due_at := await pacer.next()) is not None:
            i, due = due_at
            now = time.monotonic()
            if now > hard_stop:
                result.stopped_early = "time bound"
                break
            if now - last_check > 0.25:
                # Overloaded: stop adding to a backlog that only grows (and delays what follows).
                last_check = now
                while oldest < len(result.sent) and _done(result.sent[oldest], offers):
                    oldest += 1
                if oldest < len(result.sent) and now - result.sent[oldest].scheduled > overload_s:
                    result.stopped_early = f"overloaded: a request waited > {overload_s:.0f} s"
                    break
            try:
                await asyncio.wait_for(sem.acquire(), timeout=max(0.01, hard_stop - now))
            except TimeoutError:
                break
            rec = Sent(scheduled=due, at=time.monotonic(), message_id=prepared[i].message_id)
            result.sent.append(rec)
            task = asyncio.create_task(one(prepared[i], rec))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if now - last_report > 0.5:
                last_report = now
                progress(
                    f"{label}: sent {i + 1}/{len(prepared)} in flight {len(tasks)} "
                    f"first offers {_seen(result, observer.obs.offer_event_at)}"
                )
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    ok = result.accepted()
    result.send_window_s = max(
        (max(s.answered_at for s in ok) - t0) if ok else 0.0, len(result.sent) / rate
    )
    # Drain: wait (bounded) until every accepted request has its first offer and its push.
    drain_end = time.monotonic() + drain_s
    while time.monotonic() < drain_end:
        obs = observer.obs
        seen_event = sum(1 for s in ok if s.request_id in obs.offer_event_at)
        seen_push = sum(1 for s in ok if s.request_id in obs.offer_push_at)
        progress(f"{label}: draining, first offers {seen_event}/{len(ok)} pushes {seen_push}")
        if seen_event >= len(ok) and seen_push >= len(ok):
            break
        await asyncio.sleep(0.25)
    result.cpu_s = round(_cpu() - cpu0, 2)
    return result


def _done(s: Sent, offers: dict[str, float]) -> bool:
    if s.answered_at == 0.0:
        return False
    return s.status != 202 or s.merged or s.request_id is None or s.request_id in offers


def _seen(result: RunResult, arrived: dict[str, float]) -> int:
    return sum(1 for s in result.sent if s.request_id is not None and s.request_id in arrived)
