"""The isolated namespace `bench e2e` runs in, on the shared local Kafka and PostgreSQL:
its own topics (fresh suffix), Faust app id, data dir and database; the worker(s) and the
API as subprocesses; everything stopped, the database dropped and the namespace's topics
deleted at the end (best effort: a topic that cannot be deleted is reported, and stays)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from dispatcher.settings import REPO_ROOT

BOT_ID = "bench-bot"
BOT_SECRET = "whsec_" + base64.b64encode(b"bench-e2e-bot-secret-0123456789ab").decode()
PUSH_SECRET = "whsec_" + base64.b64encode(b"bench-e2e-push-secret-0123456789").decode()
STAFF_TOKEN = "dev-staff-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    web_port: int | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, SIGKILL if it lingers."""
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class BenchStack:
    kafka_bootstrap: str
    pg_port: int
    partitions: int
    plan_time_scale: float
    push_url: str
    communities: list[str]
    push_concurrency: int = 16
    profile_dir: Path | None = None
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dispatch-bench-")))
    ns: str = field(default_factory=lambda: "bench" + uuid.uuid4().hex[:8])
    api_port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)
    db_created: bool = False

    @property
    def db(self) -> str:
        return f"dispatch_{self.ns}"

    @property
    def app_id(self) -> str:
        return f"dispatch-{self.ns}"

    def topic(self, suffix: str) -> str:
        return f"{self.ns}.{suffix}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _pg(self, db: str) -> str:
        return f"postgresql://dispatch@127.0.0.1:{self.pg_port}/{db}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
        endpoint = {
            "name": "default",
            "kind": "webhook",
            "url": self.push_url,
            "secret": PUSH_SECRET,
            "concurrency": self.push_concurrency,
        }
        env.update(
            {
                "DISPATCH_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                "DISPATCH_TOPIC_PARTITIONS": str(self.partitions),
                "DISPATCH_COMMANDS_TOPIC": self.topic("commands"),
                "DISPATCH_EVENTS_TOPIC": self.topic("events"),
                "DISPATCH_DEAD_LETTER_TOPIC": self.topic("deadletter"),
                "DISPATCH_APP_ID": self.app_id,
                "DISPATCH_PG_DSN": self._pg(self.db),
                "DISPATCH_DATA_DIR": str(self.root / "faust"),
                "DISPATCH_API_PORT": str(self.api_port),
                "DISPATCH_PUBLIC_BASE_URL": self.api_url,
                "DISPATCH_BOTS_FILE": str(self.root / "bots.json"),
                "DISPATCH_PLAN_TIME_SCALE": str(self.plan_time_scale),
                "DISPATCH_PUSH_ENDPOINTS": json.dumps([endpoint]),
                "DISPATCH_STAFF_TOKEN": STAFF_TOKEN,
                "DISPATCH_MODE": "dev",  # the bench's own throwaway stack, dev secrets
                "DISPATCH_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    # ---------------------------------------------------------------- set-up
    async def create(self) -> None:
        conn = await asyncpg.connect(self._pg("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{self.db}"')
            self.db_created = True
        finally:
            await conn.close()
        bots = {
            "bots": [
                {
                    "bot_id": BOT_ID,
                    "secrets": [BOT_SECRET],
                    "communities": sorted(self.communities),
                    "rate_per_minute": 10_000_000,
                    "burst": 1_000_000,
                    "group_rate_per_minute": 10_000_000,
                    "group_burst": 1_000_000,
                }
            ]
        }
        (self.root / "bots.json").write_text(json.dumps(bots))
        for cmd in ("topics", "migrate"):
            subprocess.run(
                [sys.executable, "-m", "dispatcher", cmd],
                env=self.env(),
                check=True,
                stdout=subprocess.DEVNULL,
                cwd=str(REPO_ROOT),
            )

    def _spawn(self, name: str, args: list[str]) -> Proc:
        log_path = self.root / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "dispatcher", *args],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(REPO_ROOT),
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def profile(self, proc: Proc, seconds: float, label: str) -> subprocess.Popen[bytes] | None:
        """Sample `proc` with py-spy for `seconds` (collapsed stacks into the profile dir);
        None without --profile or without py-spy. py-spy stops by itself."""
        if self.profile_dir is None:
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            return None
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{proc.name}-{label}.txt"
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
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start_worker(self, name: str) -> Proc:
        port = free_port()
        proc = self._spawn(name, ["worker", "--name", name, "--web-port", str(port)])
        proc.web_port = port
        return proc

    async def start_api(self, timeout: float = 60) -> Proc:
        proc = self._spawn("api", ["api"])
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if not proc.alive():
                    raise RuntimeError(f"api exited:\n{proc.log_tail()}")
                try:
                    r = await client.get(f"{self.api_url}/readyz", timeout=2)
                    if r.status_code == 200:
                        return proc
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        raise TimeoutError(f"api not ready in {timeout} s:\n{proc.log_tail()}")

    @staticmethod
    async def worker_stats(client: httpx.AsyncClient, proc: Proc) -> dict[str, Any] | None:
        try:
            r = await client.get(f"http://127.0.0.1:{proc.web_port}/stats", timeout=3)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def workers(self) -> list[Proc]:
        return [p for p in self.procs if p.web_port is not None]

    # ---------------------------------------------------------------- clean-up
    async def cleanup(self, keep_logs: bool = False) -> dict[str, Any]:
        report: dict[str, Any] = {"namespace": self.ns}
        for p in reversed(self.procs):
            p.stop()
        report["processes_stopped"] = [p.name for p in self.procs]
        if self.db_created:
            try:
                conn = await asyncpg.connect(self._pg("postgres"))
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
                finally:
                    await conn.close()
                report["database_dropped"] = self.db
            except Exception as exc:  # report, never mask the run's own result
                report["database_left"] = f"{self.db} ({type(exc).__name__}: {exc})"
        report["topics_deleted"], report["topics_left"] = await self._delete_topics()
        if keep_logs:
            report["logs"] = str(self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return report

    async def _delete_topics(self) -> tuple[list[str], list[str]]:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka_bootstrap)
        ours: list[str] = []
        try:
            await admin.start()
            ours = sorted(
                t
                for t in await admin.list_topics()
                if t.startswith(self.ns + ".") or t.startswith(self.app_id)
            )
            if ours:
                await asyncio.wait_for(admin.delete_topics(ours), timeout=30)
            return ours, []
        except Exception:
            return [], ours or [f"{self.ns}.*", f"{self.app_id}-*"]
        finally:
            await admin.close()
