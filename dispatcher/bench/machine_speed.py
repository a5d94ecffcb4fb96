"""How fast this machine is when a run starts (and, for the Python figure, when it ends), in
figures the run's own can be read against across days.

This shared VM's speed moves, and not evenly: on 2026-12-04 the same tree's CPU per request
at 500 req/s read 5.2 in the afternoon and 8.0 in the evening, every process's share up by
25-90 %, while `bench match` (pure Python, one process) read the same `decide()` p50 both
times; and the fixed workload below took 14 ms of CPU in one minute and 24-26 ms the next
(user time only, no page faults: the host's other tenants). Two kinds of speed, measured with
nothing of the bench running:

- `python_ms`: this thread's CPU time for a fixed pure-Python workload (dicts, strings, JSON
  through the standard library), the best of `PYTHON_ROUNDS` back to back: what the
  interpreter's own work costs now, as in `decide()` and the agents. `bench e2e` reads it
  again after the run (`python_ms_after`): two readings far apart mean the run's figures
  mix two machines.
- `loopback_round_trip_us` / `loopback_cpu_us`: a one-byte ping-pong between two processes
  over a loopback TCP connection (Nagle off), the p50 wall time of a round trip and both
  processes' CPU time per round trip: what a hop between two of the stack's processes costs
  in the kernel (the wake-up, the context switches, the socket calls), paid on every hop
  between the API, the broker, PostgreSQL and the worker. On this VM it is ~2.5× dearer when
  the two processes run on different cores (~60 µs a round trip, ~50 µs of CPU) than when
  both are pinned to one (~20 / ~21 µs): waking another virtual CPU is costly here.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from dispatcher.stats import nearest_rank

PYTHON_ROUNDS = 5
ROUND_TRIPS = 2000
WARM_UP = 200

# The echoing side, run as its own process: answers each byte with one byte, then sends its
# CPU seconds over the timed round trips as the final line.
_ECHO = """
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
warm, n = int(sys.argv[2]), int(sys.argv[3])
for _ in range(warm):
    s.sendall(s.recv(1))
t0 = time.process_time()
for _ in range(n):
    s.sendall(s.recv(1))
s.sendall(("%r\\n" % (time.process_time() - t0)).encode())
s.close()
"""


def _python_work() -> int:
    """A fixed mix of the interpreter's everyday work; returns a checksum so none of it is
    optimised away or skipped."""
    total = 0
    for i in range(2000):
        record = {"id": f"helper-{i}", "skills": ["driving", "nurse"][: i % 3], "n": i}
        text = json.dumps(record, separators=(",", ":"))
        back = json.loads(text)
        total += len(text) + back["n"] + len(back["skills"])
        words = text.replace('"', " ").split()
        total += sum(1 for w in words if w.startswith("h"))
        table = {w: len(w) for w in words}
        total += max(table.values())
    return total


def python_ms(rounds: int = PYTHON_ROUNDS) -> float:
    """CPU ms of the fixed workload, the best (least disturbed) of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.thread_time_ns()
        _python_work()
        best = min(best, (time.thread_time_ns() - t0) / 1e6)
    return round(best, 2)


def loopback(round_trips: int = ROUND_TRIPS, warm_up: int = WARM_UP) -> dict[str, float]:
    """p50 and p99 wall µs of a one-byte round trip to another process over loopback TCP,
    and the CPU µs both processes spent per round trip."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        child = subprocess.Popen(
            [sys.executable, "-c", _ECHO, str(port), str(warm_up), str(round_trips)]
        )
        try:
            server.settimeout(30)
            conn, _ = server.accept()
            with conn:
                conn.settimeout(30)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(warm_up):
                    conn.sendall(b"x")
                    conn.recv(1)
                samples: list[int] = []
                c0 = time.thread_time_ns()
                for _ in range(round_trips):
                    t0 = time.perf_counter_ns()
                    conn.sendall(b"x")
                    if not conn.recv(1):
                        raise RuntimeError("the echo process closed its connection")
                    samples.append(time.perf_counter_ns() - t0)
                own_cpu_s = (time.thread_time_ns() - c0) / 1e9
                line = b""
                while not line.endswith(b"\n"):
                    part = conn.recv(64)
                    if not part:
                        raise RuntimeError("the echo process ended without its CPU time")
                    line += part
            child_cpu_s = float(line)
        finally:
            child.wait(timeout=30)
    return {
        "loopback_round_trip_us": round(statistics.median(samples) / 1e3, 1),
        "loopback_round_trip_p99_us": round(nearest_rank(samples, 0.99) / 1e3, 1),
        "loopback_cpu_us": round((own_cpu_s + child_cpu_s) / round_trips * 1e6, 1),
    }


def measure() -> dict[str, Any]:
    return {"python_ms": python_ms(), **loopback()}


def line(speed: dict[str, Any]) -> str:
    after = speed.get("python_ms_after")
    return (
        f"machine speed: Python workload {speed['python_ms']} ms CPU (best of "
        f"{PYTHON_ROUNDS}{'' if after is None else f'; {after} after the run'}), loopback "
        f"round trip p50 {speed['loopback_round_trip_us']} µs (p99 "
        f"{speed['loopback_round_trip_p99_us']}), {speed['loopback_cpu_us']} µs CPU each"
    )
