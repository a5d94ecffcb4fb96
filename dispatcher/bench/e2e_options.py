"""`bench e2e`: its options, progress line and machine facts."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    floor_count: int = 2000  # after a warm-up: p99 is the 20th-worst round trip
    floor_rate: float = 200.0
    # A broker started less than e2e_floor.YOUNG_BROKER_S ago is warmed this long first.
    young_broker_warmup_s: float = 75.0
    max_in_flight: int = 256
    drain_s: float = 10.0
    settle_s: float = 60.0  # at most this long between phases for the worker to catch up
    push_concurrency: int = 16
    push_batch: int = 32  # deliveries per webhook POST at most (1: one POST per delivery)
    kafka_bootstrap: str = "127.0.0.1:" + os.environ.get("DISPATCH_KAFKA_PORT", "19092")
    pg_port: int = int(os.environ.get("DISPATCH_PG_PORT", "55432"))
    profile_dir: Path | None = None
    pg_statements: int = 10  # top statements per fixed rate (pg_stat_statements, if loaded)
    loop_census_ms: float = 0.0  # > 0: the workers count callbacks this long (loop_census)
    keep_logs: bool = False
    quick: bool = False
    code_dir: Path | None = None  # the worker's and API's packages (None: this checkout)
    # Settings for the worker and API of this run (`--base-env`: the base's of a comparison).
    extra_env: tuple[tuple[str, str], ...] = ()

    def scenario_changes(self) -> list[str]:
        """What of this run differs from the default scenario set, which issue 18's goals are
        about (`dispatcher/bench/goals.py`): `name=value` for each such option."""
        default = Options()
        return [
            f"{name}={getattr(self, name)!r}"
            for name in _SCENARIO_FIELDS
            if getattr(self, name) != getattr(default, name)
        ]

    @classmethod
    def quick_defaults(cls, **overrides: Any) -> Options:
        base: dict[str, Any] = {
            "communities": 2,
            "helpers_per_community": 100,
            "rates": (50.0, 100.0),  # 50/s: the rate intake_p50_ms/p99_ms are quoted at
            "duration": 4.0,
            "probe_duration": 3.0,
            "probes": 1,
            "floor_count": 1000,  # 300 made p99 the 3rd-worst: one stall decided it
            "young_broker_warmup_s": 15.0,  # a smoke test: the floor after the run decides
            "drain_s": 5.0,
            "settle_s": 20.0,
            "quick": True,
        }
        base.update(overrides)
        return cls(**base)


# The options that shape the headline figures (what is offered, to what, and what else
# costs CPU meanwhile); not where the stack is, nor the logs kept.
_SCENARIO_FIELDS = (
    "quick",
    "communities",
    "helpers_per_community",
    "seed",
    "rates",
    "duration",
    "probe_duration",
    "probes",
    "ceiling",
    "partitions",
    "partition_table",
    "plan_time_scale",
    "floor_count",
    "floor_rate",
    "max_in_flight",
    "push_concurrency",
    "push_batch",
    "profile_dir",
    "loop_census_ms",
)


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
