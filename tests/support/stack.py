"""Real-parts harness for integration and e2e tests.

Each test session gets its own Kafka topics, Faust app id and PostgreSQL database, so tests
never touch the data of `make run`. Worker and API run as real subprocesses (SIGKILL-able).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from dispatcher.settings import REPO_ROOT, Settings
from tests.support.bot import bots_file_doc

STACK_SH = REPO_ROOT / "deploy" / "local" / "stack.sh"
BASE_PG = "postgresql://dispatch@127.0.0.1:{port}/{db}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_stack_up() -> None:
    """Start the local Kafka and PostgreSQL if they are not running (idempotent)."""
    subprocess.run([str(STACK_SH), "up"], check=True)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    web_port: int | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class LocalStack:
    """One isolated namespace (topics, app id, database, data dir) on the shared local stack."""

    root: Path
    ns: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:10])
    pg_port: int = int(os.environ.get("DISPATCH_PG_PORT", "55432"))
    kafka_bootstrap: str = "127.0.0.1:" + os.environ.get("DISPATCH_KAFKA_PORT", "19092")
    api_port: int = field(default_factory=free_port)
    partitions: int = 4
    procs: list[Proc] = field(default_factory=list)
    worker_ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Communities the test bot may act in (written to the bots file the API loads).
    bot_communities: set[str] = field(default_factory=set)

    @property
    def db(self) -> str:
        return f"dispatch_{self.ns}"

    @property
    def pg_dsn(self) -> str:
        return BASE_PG.format(port=self.pg_port, db=self.db)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
        env.update(
            {
                "DISPATCH_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                "DISPATCH_TOPIC_PARTITIONS": str(self.partitions),
                "DISPATCH_COMMANDS_TOPIC": f"{self.ns}.commands",
                "DISPATCH_EVENTS_TOPIC": f"{self.ns}.events",
                "DISPATCH_DEAD_LETTER_TOPIC": f"{self.ns}.deadletter",
                "DISPATCH_APP_ID": f"dispatch-{self.ns}",
                "DISPATCH_PG_DSN": self.pg_dsn,
                "DISPATCH_DATA_DIR": str(self.root / "faust"),
                "DISPATCH_API_PORT": str(self.api_port),
                "DISPATCH_PUBLIC_BASE_URL": self.api_url,
                "DISPATCH_BOTS_FILE": str(self.root / "bots.json"),
                "DISPATCH_MODE": "dev",  # production refuses the dev secrets the tests use
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def settings(self, **overrides: object) -> Settings:
        values = {
            k.removeprefix("DISPATCH_").lower(): v
            for k, v in self.env().items()
            if k.startswith("DISPATCH_")
        }
        values.update({k: v for k, v in overrides.items()})
        return Settings(**values)  # type: ignore[arg-type]

    async def create(self) -> None:
        conn = await asyncpg.connect(BASE_PG.format(port=self.pg_port, db="postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{self.db}"')
        finally:
            await conn.close()
        self._run_cli("topics")
        self._run_cli("migrate")

    async def drop(self) -> None:
        for p in self.procs:
            p.kill(signal.SIGTERM)
        if os.environ.get("DISPATCH_TEST_KEEP_DB"):
            print(f"\nkept database {self.db} and logs in {self.root}")
            return
        conn = await asyncpg.connect(BASE_PG.format(port=self.pg_port, db="postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        finally:
            await conn.close()

    def _run_cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "dispatcher", *args],
            env=self.env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def spawn(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Proc:
        log_path = self.root / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        popen = subprocess.Popen(
            [sys.executable, "-m", "dispatcher", *args],
            env=dict(env or self.env()),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO_ROOT),
        )
        log.close()
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str = "worker-1") -> Proc:
        # A restart keeps the worker's port, as a deployment does: with static membership
        # (streams/app.py) it then rejoins as the same group member at once.
        port = self.worker_ports.setdefault(name, free_port())
        proc = self.spawn(name, "worker", "--name", name, "--web-port", str(port))
        proc.web_port = port
        return proc

    async def worker_stats(self, proc: Proc) -> dict[str, Any] | None:
        """The worker's /stats page, or None while it is not serving."""
        try:
            async with httpx.AsyncClient() as client:
                r = await client.get(f"http://127.0.0.1:{proc.web_port}/stats", timeout=2)
                return r.json() if r.status_code == 200 else None
        except httpx.HTTPError:
            return None

    async def start_api(self) -> Proc:
        (self.root / "bots.json").write_text(json.dumps(bots_file_doc(self.bot_communities)))
        proc = self.spawn("api", "api")
        await self.wait_ready(proc)
        return proc

    async def wait_ready(self, proc: Proc, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
                try:
                    r = await client.get(f"{self.api_url}/readyz", timeout=2)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        raise TimeoutError(f"{proc.name} not ready in {timeout} s:\n{proc.log_tail()}")
