"""The test harness's port choice (dispatcher/testing/ports.py): below the kernel's ephemeral
range, never twice in one process, never one another process holds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dispatcher.testing import ports


def test_ports_are_below_the_ephemeral_range_and_distinct() -> None:
    low = ports.ephemeral_low()
    chosen = {ports.free_port() for _ in range(20)}
    assert len(chosen) == 20
    assert all(ports.RANGE[0] <= p < min(ports.RANGE[1], low) for p in chosen)


def test_ephemeral_low_reads_the_kernel_file(tmp_path: Path) -> None:
    f = tmp_path / "range"
    f.write_text("40000\t60999\n")
    assert ports.ephemeral_low(f) == 40000
    assert ports.ephemeral_low(tmp_path / "missing") == 32768


def test_a_port_another_process_holds_is_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two test runs side by side: the other run's lock on a port keeps it from this one."""
    base = 29000
    monkeypatch.setattr(ports, "RANGE", (base, base + 2))
    monkeypatch.setattr(ports, "LOCK_DIR", tmp_path)
    monkeypatch.setattr(ports, "_held", {})
    monkeypatch.setattr(ports, "_bindable", lambda port: True)  # only the locks are under test
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys
                fd = os.open({str(tmp_path / str(base))!r}, os.O_CREAT | os.O_RDWR)
                fcntl.flock(fd, fcntl.LOCK_EX)
                print("held", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert ports.free_port() == base + 1
        with pytest.raises(RuntimeError, match="taken"):
            ports.free_port()
    finally:
        holder.communicate("")
