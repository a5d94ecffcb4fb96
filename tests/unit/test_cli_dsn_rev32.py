"""Review 32, every command line that reads PostgreSQL: a DISPATCH_PG_DSN it cannot use is
one line on stderr and exit 2, and PostgreSQL not listening one line and exit 1 (migrate:
69, its documented code), never a traceback nor the password. Run as the operator runs
them, `python -m dispatcher COMMAND`, in a subprocess; nothing here reaches Kafka or
PostgreSQL (the failure comes first)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dispatcher.settings import REPO_ROOT

PASSWORD = "hunter2-s3cret"
MALFORMED_DSNS = (
    "notadsn",
    f"postgresql://u:{PASSWORD}@127.0.0.1:abc/x",
    f"postgresql://u:{PASSWORD}@127.0.0.1:99999/x",
    f"postgresql://u:{PASSWORD}@127.0.0.1:5432/x?sslmode=bogus",
    # No "@" before the path: asyncpg reads the password as the port, and says so.
    f"postgresql://u:{PASSWORD}/x@127.0.0.1/x",
)
NOBODY_LISTENS = f"postgresql://u:{PASSWORD}@127.0.0.1:1/x"

HELPERS_CSV = "姓名,电话,楼栋\n张三,13800000001,1\n"
HOUSEHOLDS_CSV = "小区,楼栋,单元,户号,户主,电话\n图强小区,1,1,101,张三,13800000001\n"
LEDGER = ["--community", "c1", "--compound", "c1-a", "--dry-run"]
# name as it prints itself, its arguments ({dir}: a folder with the ledgers), the progress
# lines it prints before it connects.
COMMANDS: dict[str, tuple[str, list[str], list[str]]] = {
    "migrate": ("migrate", [], []),
    "purge": ("purge", [], []),
    "welcome": ("welcome", ["--community", "c1", "--wait", "0"], []),
    "summary": ("summary", ["--community", "c1", "--month", "2026-11", "--wait", "0"], []),
    "roster-import": ("roster-import", ["{dir}/helpers.csv", *LEDGER], ["rows checked: 1"]),
    "households": ("households", ["import", "{dir}/households.csv", *LEDGER], ["rows checked: 1"]),
    "simulate": (
        "simulate",
        ["--from-db", "--community", "c1", "--since", "2026-11-01", "--days", "1", "--no-report"],
        [],
    ),
    # Reads the helper table from Kafka only once PostgreSQL is known to be usable.
    "rekey-helpers": ("rekey-helpers", ["--dry-run"], []),
    "phone-keys": ("phone-keys", ["--dry-run"], []),
    "report": ("report", ["--community", "c1", "--month", "2026-11"], []),
    "personal-link": ("personal-link", ["--community", "c1", "--helper", "h1"], []),
}


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ledgers")
    (folder / "helpers.csv").write_text(HELPERS_CSV, encoding="utf-8")
    (folder / "households.csv").write_text(HOUSEHOLDS_CSV, encoding="utf-8")
    return folder


def _cli(command: str, dsn: str, folder: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    tool, args, _ = COMMANDS[command]
    env = {
        "PATH": "/usr/bin:/bin",
        "DISPATCH_MODE": "dev",
        "DISPATCH_PG_DSN": dsn,
        # Were Kafka read first, this would fail there instead (nobody listens).
        "DISPATCH_KAFKA_BOOTSTRAP": "127.0.0.1:1",
    }
    argv = [a.format(dir=folder) for a in args]
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", command, *argv],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    return done, tool


def _failure_line(command: str, done: subprocess.CompletedProcess[str]) -> str:
    """The one line the failure printed, after the command's own progress lines."""
    shown = done.stdout + done.stderr
    assert "Traceback" not in shown and PASSWORD not in shown, shown
    assert done.stdout == "", done.stdout
    lines = done.stderr.splitlines()
    progress = COMMANDS[command][2]
    assert done.stderr.endswith("\n") and len(lines) == len(progress) + 1, done.stderr
    assert lines[:-1] == progress, done.stderr
    return lines[-1]


@pytest.mark.parametrize("dsn", MALFORMED_DSNS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_malformed_dsn_is_one_line_and_exit_2(command: str, dsn: str, ledgers: Path) -> None:
    done, tool = _cli(command, dsn, ledgers)
    assert done.returncode == 2, done.stderr
    line = _failure_line(command, done)
    assert line.startswith(f"{tool}: DISPATCH_PG_DSN is not a usable PostgreSQL DSN: "), line


@pytest.mark.parametrize("command", COMMANDS)
def test_postgresql_not_listening_is_one_line_and_exit_1(command: str, ledgers: Path) -> None:
    done, tool = _cli(command, NOBODY_LISTENS, ledgers)
    if command == "migrate":  # its own line and code (tests/security/test_cli_config_errors)
        assert done.returncode == 69, done.stderr
        assert _failure_line(command, done).startswith("migrate: PostgreSQL (DISPATCH_PG_DSN) ")
        return
    assert done.returncode == 1, done.stderr
    line = _failure_line(command, done)
    assert line.startswith(f"{tool}: cannot read PostgreSQL: "), line
