"""`python -m dispatcher.bench.push_deliverer`: throughput and latency of one Deliverer.

Sends N signed webhook deliveries to the local receiver (dispatcher/testing, run in its
own thread and event loop) and prints JSON: deliveries/second from first submit to the
last callback, and p50/p99 latency from submit to receipt at the receiver. Run it from
the repository root. A measurement, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from dispatcher.push.backoff import RetryPolicy
from dispatcher.push.endpoints import EndpointConfig, EndpointRegistry
from dispatcher.push.engine import Deliverer
from dispatcher.push.lane import EngineConfig
from dispatcher.push.model import Delivery, PushKind, PushMessage
from dispatcher.stats import nearest_rank
from dispatcher.testing.push_receiver import ThreadedPushReceiver


async def _run(
    url: str, count: int, concurrency: int, rate: float | None, batch_max: int
) -> dict[str, Any]:
    endpoint = EndpointConfig.model_validate(
        {
            "name": "bench",
            "kind": "webhook",
            "url": url,
            "secret": "whsec_YmVuY2gtc2VjcmV0",  # key b"bench-secret"
            "concurrency": concurrency,
            "batch_max": batch_max,
            "batch_window_seconds": 0.005,  # used only when batch_max > 1
        }
    )
    done = asyncio.Event()
    delivered = 0

    async def on_delivered(delivery: Delivery, latency: float) -> None:
        nonlocal delivered
        delivered += 1
        if delivered == count:
            done.set()

    config = EngineConfig(retry=RetryPolicy(max_total_time=60.0))
    submitted: dict[str, float] = {}
    async with Deliverer(
        EndpointRegistry([endpoint]), on_delivered=on_delivered, config=config
    ) as deliverer:
        started = time.monotonic()
        cpu0 = time.thread_time()  # the sender's loop only: the receiver has its own thread
        for i in range(count):
            delivery = Delivery(
                delivery_id=f"bench-{i}",
                endpoint="bench",
                kind=PushKind.OFFER,
                message=PushMessage(title="紧急：送医", text="【紧急】3号楼 送医，需要2位邻居帮忙"),
            )
            if rate:  # paced: the latency of a deliverer that is not saturated
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            submitted[delivery.delivery_id] = time.monotonic()
            await deliverer.submit(delivery)
        await asyncio.wait_for(done.wait(), timeout=120)
        elapsed = time.monotonic() - started
        cpu = time.thread_time() - cpu0
    return {"elapsed": elapsed, "cpu": cpu, "submitted": submitted}


def _arrivals(receiver: ThreadedPushReceiver) -> tuple[dict[str, float], int]:
    """When each delivery id arrived (batched ones by their entries), and the POST count."""
    arrived: dict[str, float] = {}
    posts = list(receiver.received)
    for r in posts:
        if r.webhook_id and r.webhook_id.startswith("batch-"):
            for entry in json.loads(r.body)["data"]["deliveries"]:
                arrived.setdefault(entry["delivery_id"], r.at)
        elif r.webhook_id:
            arrived.setdefault(r.webhook_id, r.at)
    return arrived, len(posts)


def _measure(count: int, concurrency: int, rate: float | None, batch_max: int) -> dict[str, Any]:
    with ThreadedPushReceiver() as receiver:
        run = asyncio.run(_run(receiver.url("/bench"), count, concurrency, rate, batch_max))
        received, posts = _arrivals(receiver)
    latencies = [received[i] - t for i, t in run["submitted"].items() if i in received]
    return {
        "deliveries": count,
        "received": len(received),
        "posts": posts,
        "batch_max": batch_max,
        "sender_cpu_ms_per_delivery": round(run["cpu"] * 1000 / count, 3),
        "concurrency": concurrency,
        "submit_rate_per_second": rate,
        "seconds": round(run["elapsed"], 3),
        "deliveries_per_second": round(count / run["elapsed"], 1),
        "latency_ms_p50": round(nearest_rank(latencies, 0.50) * 1000, 2),
        "latency_ms_p99": round(nearest_rank(latencies, 0.99) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatcher.bench.push_deliverer")
    parser.add_argument("--count", type=int, default=2000, help="deliveries in the burst run")
    parser.add_argument("--concurrency", type=int, default=8, help="sends in flight")
    parser.add_argument("--paced-rate", type=float, default=200.0, help="submits/s, paced run")
    parser.add_argument(
        "--compare-batch",
        type=int,
        default=0,
        metavar="N",
        help="also run with batch_max N (one POST per up to N deliveries), the two "
        "configurations taking turns for --rounds rounds (same machine load)",
    )
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [1, args.compare_batch] if args.compare_batch > 1 else [1]
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for n in sizes:
            runs.setdefault(f"batch_max_{n}", []).append(
                {
                    # Everything submitted at once: throughput; latency is mostly queueing.
                    "burst": _measure(args.count, args.concurrency, None, n),
                    # Submitted at a steady rate below capacity: per-delivery latency.
                    "paced": _measure(
                        max(1, args.count // 4), args.concurrency, args.paced_rate, n
                    ),
                }
            )
    result: dict[str, Any] = runs["batch_max_1"][0] if len(runs) == 1 and args.rounds == 1 else runs
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
