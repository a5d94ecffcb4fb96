"""How the benches configure the shared harness (dispatcher/testing/stack.py): their bot,
staff token, push endpoint, plan time scale, and py-spy sampling of a process."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Collection, Mapping
from pathlib import Path

from dispatcher.testing.stack import Bot, LocalStack, Proc

BOT_ID = "bench-bot"
BOT_SECRET = "whsec_" + base64.b64encode(b"bench-e2e-bot-secret-0123456789ab").decode()
PUSH_SECRET = "whsec_" + base64.b64encode(b"bench-e2e-push-secret-0123456789").decode()
STAFF_TOKEN = "dev-staff-token"
BENCH_BOT = Bot(BOT_ID, BOT_SECRET, rate_per_minute=10_000_000, burst=1_000_000)


def bench_stack(
    *,
    kafka_bootstrap: str,
    pg_port: int,
    partitions: int,
    plan_time_scale: float,
    communities: Collection[str],
    bot: Bot | None = BENCH_BOT,
    partition_table: Mapping[str, int] | None = None,
    code_dir: Path | None = None,
    loop_census_ms: float = 0.0,
    extra_env: Collection[tuple[str, str]] = (),
) -> LocalStack:
    """A fresh namespace for one bench run (its own throwaway stack: dev secrets).
    `partition_table`: community → partition for every producer (None: murmur2 hashing).
    `extra_env`: settings for its worker and API, over the bench's own."""
    env = {
        "DISPATCH_PLAN_TIME_SCALE": str(plan_time_scale),
        "DISPATCH_STAFF_TOKEN": STAFF_TOKEN,
        "DISPATCH_LOG_LEVEL": "WARNING",
        # Each 202 says where the API's time went (api/server_timing.py; off by default):
        # the intake's phases beside the load generator's latency. A revision without it
        # (`--compare`) ignores the setting and reports no phases.
        "DISPATCH_SERVER_TIMING": "true",
    }
    if loop_census_ms > 0:
        env["DISPATCH_LOOP_CENSUS_MS"] = str(loop_census_ms)
    if partition_table:
        env["DISPATCH_COMMUNITY_PARTITIONS"] = json.dumps(dict(partition_table))
    env.update(extra_env)
    return LocalStack(
        ns="bench" + uuid.uuid4().hex[:8],
        kafka_bootstrap=kafka_bootstrap,
        pg_port=pg_port,
        partitions=partitions,
        bot=bot,
        bot_communities=set(communities),
        extra_env=env,
        code_dir=code_dir,
    )


def push_to(stack: LocalStack, url: str, concurrency: int = 16, batch_max: int = 1) -> None:
    """Aim the worker's one webhook endpoint at `url` (processes started from now on)."""
    endpoint = {
        "name": "default",
        "kind": "webhook",
        "url": url,
        "secret": PUSH_SECRET,
        "concurrency": concurrency,
        "batch_max": batch_max,
        "batch_window_seconds": 0.005,  # used only when batch_max > 1
    }
    stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([endpoint])


def py_spy() -> str | None:
    """The py-spy executable (on PATH or beside this Python), or None."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return spy if Path(spy).exists() else None


def profile(
    proc: Proc, seconds: float, label: str, profile_dir: Path | None
) -> subprocess.Popen[bytes] | None:
    """Sample `proc` with py-spy for `seconds` (collapsed stacks into `profile_dir`); None
    without a profile dir or without py-spy. py-spy stops by itself.

    Only the thread holding the GIL is sampled (`--gil`): a worker runs two Python threads
    (its event loop and Faust's consumer thread), and a thread waiting for the GIL was
    otherwise sampled in the frame that waits - after a socket write, mostly, which made
    those writes look like a tenth of the worker while its kernel time is about that for
    everything (session 16). What is left is where the Python CPU goes."""
    spy = py_spy()
    if profile_dir is None or spy is None:
        return None
    profile_dir.mkdir(parents=True, exist_ok=True)
    out = profile_dir / f"{proc.name}-{label}.txt"
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(proc.popen.pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
