"""Real-parts harness for integration tests, e2e tests and benches.

Each user gets its own Kafka topics, Faust app id, PostgreSQL database and data dir on the
shared local stack (`deploy/local/stack.sh`), so nothing touches the data of `make run`.
Worker and API run as real subprocesses (SIGKILL-able); a restarted worker keeps its web
port. `drop()` (tests) stops the processes and drops the database; `cleanup()` (benches)
also deletes the namespace's topics and its temporary directory, and reports what it did.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from dispatcher.bench.no_editable import DROP_EDITABLE_FINDERS
from dispatcher.settings import REPO_ROOT, Settings
from dispatcher.testing.ports import free_port

STACK_SH = REPO_ROOT / "deploy" / "local" / "stack.sh"
BASE_PG = "postgresql://dispatch@127.0.0.1:{port}/{db}"


# `python -m dispatcher` for another revision's tree (`--compare`), with the editable
# install's import hooks dropped first: a module that tree lacks must fail, not load quietly
# from this checkout (they are the hooks' whole job).
_RUN_TREE = (
    DROP_EDITABLE_FINDERS
    + """
import runpy
sys.path.insert(0, sys.argv[1])
sys.argv[:] = ["dispatcher", *sys.argv[2:]]
runpy.run_module("dispatcher", run_name="__main__", alter_sys=True)
"""
)


def command_in(tree: Path | None, *args: str) -> list[str]:
    """The command that runs `python -m dispatcher ARGS` from TREE's packages (None: ours)."""
    if tree is None:
        return [sys.executable, "-m", "dispatcher", *args]
    return [sys.executable, "-c", _RUN_TREE, str(tree), *args]


def ensure_stack_up() -> None:
    """Start the local Kafka and PostgreSQL if they are not running (idempotent)."""
    subprocess.run([str(STACK_SH), "up"], check=True)


def default_pg_port() -> int:
    return int(os.environ.get("DISPATCH_PG_PORT", "55432"))


def default_kafka_bootstrap() -> str:
    return "127.0.0.1:" + os.environ.get("DISPATCH_KAFKA_PORT", "19092")


@dataclass(frozen=True)
class Bot:
    """The one signed bot a harness's API accepts (its bots file)."""

    bot_id: str
    secret: str
    rate_per_minute: int = 100_000
    burst: int = 100_000

    def bots_file_doc(self, communities: Collection[str]) -> dict[str, Any]:
        return {
            "bots": [
                {
                    "bot_id": self.bot_id,
                    "secrets": [self.secret],
                    "communities": sorted(communities),
                    "rate_per_minute": self.rate_per_minute,
                    "burst": self.burst,
                    "group_rate_per_minute": self.rate_per_minute,
                    "group_burst": self.burst,
                }
            ]
        }


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    web_port: int | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 30.0) -> None:
        """Send `sig` (SIGKILL by default) and wait; SIGKILL if it lingers."""
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, SIGKILL if it lingers."""
        self.kill(signal.SIGTERM, timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class LocalStack:
    """One isolated namespace (topics, app id, database, data dir) on the shared local stack."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dispatch-stack-")))
    ns: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:10])
    pg_port: int = field(default_factory=default_pg_port)
    kafka_bootstrap: str = field(default_factory=default_kafka_bootstrap)
    api_port: int = field(default_factory=free_port)
    partitions: int = 4
    procs: list[Proc] = field(default_factory=list)
    worker_ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # The API's bots file: this bot, acting in these communities (None: the caller writes
    # root/bots.json itself before start_api).
    bot: Bot | None = None
    bot_communities: set[str] = field(default_factory=set)
    db_created: bool = False
    # Another revision's packages for the processes it starts (bench e2e --compare); the
    # topics and migrations stay this checkout's (a superset of an older revision's).
    code_dir: Path | None = None

    @property
    def db(self) -> str:
        return f"dispatch_{self.ns}"

    @property
    def app_id(self) -> str:
        return f"dispatch-{self.ns}"

    def topic(self, suffix: str) -> str:
        return f"{self.ns}.{suffix}"

    def _pg(self, db: str) -> str:
        return BASE_PG.format(port=self.pg_port, db=db)

    @property
    def pg_dsn(self) -> str:
        return self._pg(self.db)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
        env.update(
            {
                "DISPATCH_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                "DISPATCH_TOPIC_PARTITIONS": str(self.partitions),
                "DISPATCH_COMMANDS_TOPIC": self.topic("commands"),
                "DISPATCH_EVENTS_TOPIC": self.topic("events"),
                "DISPATCH_DEAD_LETTER_TOPIC": self.topic("deadletter"),
                "DISPATCH_CONFIG_TOPIC": self.topic("config"),
                "DISPATCH_APP_ID": self.app_id,
                "DISPATCH_PG_DSN": self.pg_dsn,
                "DISPATCH_DATA_DIR": str(self.root / "faust"),
                "DISPATCH_API_PORT": str(self.api_port),
                "DISPATCH_PUBLIC_BASE_URL": self.api_url,
                "DISPATCH_BOTS_FILE": str(self.root / "bots.json"),
                "DISPATCH_MODE": "dev",  # production refuses the dev secrets used here
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

    # ---------------------------------------------------------------- set-up
    async def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conn = await asyncpg.connect(self._pg("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{self.db}"')
            self.db_created = True
        finally:
            await conn.close()
        self.run_cli("topics")
        self.run_cli("migrate")

    def run_cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "dispatcher", *args],
            env=self.env(),
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=str(REPO_ROOT),
        )

    def spawn(
        self,
        name: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,  # another revision's packages (bench intake --compare)
    ) -> Proc:
        log_path = self.root / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        tree = cwd or self.code_dir
        popen = subprocess.Popen(
            command_in(tree, *args),
            env=dict(env or self.env()),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(tree or REPO_ROOT),
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

    def workers(self) -> list[Proc]:
        return [p for p in self.procs if p.web_port is not None]

    async def worker_stats(
        self, proc: Proc, client: httpx.AsyncClient | None = None
    ) -> dict[str, Any] | None:
        """The worker's /stats page, or None while it is not serving."""
        url = f"http://127.0.0.1:{proc.web_port}/stats"
        try:
            if client is None:
                async with httpx.AsyncClient() as own:
                    r = await own.get(url, timeout=2)
            else:
                r = await client.get(url, timeout=3)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    async def start_api(self) -> Proc:
        if self.bot is not None:
            doc = self.bot.bots_file_doc(self.bot_communities)
            (self.root / "bots.json").write_text(json.dumps(doc))
        proc = self.spawn("api", "api")
        await self.wait_ready(proc)
        return proc

    async def wait_ready(self, proc: Proc, timeout: float = 60, url: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
                try:
                    r = await client.get(f"{url or self.api_url}/readyz", timeout=2)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        raise TimeoutError(f"{proc.name} not ready in {timeout} s:\n{proc.log_tail()}")

    # ---------------------------------------------------------------- clean-up
    async def drop(self) -> None:
        """Tests: stop the processes, delete the namespace's topics and drop the database
        (both kept with DISPATCH_TEST_KEEP_DB). The topics too: a long-lived local broker
        otherwise keeps every test module's partitions, and at ~15,000 of them (3,850
        topics, about two full suites) its 512 MB heap ran out (session 37)."""
        for p in self.procs:
            p.stop()
        if os.environ.get("DISPATCH_TEST_KEEP_DB"):
            print(f"\nkept database {self.db}, topics {self.ns}.* and logs in {self.root}")
            return
        # Only on the shared broker: a test's own broker (the secured one of test_kafka_acls)
        # goes with its test, and a plain client cannot speak to its SASL listener.
        if self.kafka_bootstrap == default_kafka_bootstrap():
            await self._delete_topics()
        await self._drop_db()

    async def _drop_db(self) -> None:
        conn = await asyncpg.connect(self._pg("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        finally:
            await conn.close()

    async def cleanup(self, keep_logs: bool = False) -> dict[str, Any]:
        """Benches: stop everything, drop the database, delete the namespace's topics (best
        effort: what could not be removed is reported, and stays) and the logs."""
        report: dict[str, Any] = {"namespace": self.ns}
        for p in reversed(self.procs):
            p.stop()
        report["processes_stopped"] = [p.name for p in self.procs]
        if self.db_created:
            try:
                await self._drop_db()
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
            await asyncio.wait_for(admin.start(), timeout=30)
            ours = sorted(
                t
                for t in await asyncio.wait_for(admin.list_topics(), timeout=30)
                if t.startswith(self.ns + ".") or t.startswith(self.app_id)
            )
            if ours:
                await asyncio.wait_for(admin.delete_topics(ours), timeout=30)
            return ours, []
        except Exception:
            return [], ours or [f"{self.ns}.*", f"{self.app_id}-*"]
        finally:
            await admin.close()
