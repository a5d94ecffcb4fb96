"""Ports for the processes tests and benches start, chosen so that nothing takes them first.

A port from `bind(0)` comes from the kernel's ephemeral range, the same range outgoing
connections (Kafka clients, asyncpg, httpx) draw their local ports from: between the choice
and the API's own bind, one of them could take it (a `test_config_live` run errored so). So
ports come from below the ephemeral range, where the kernel never assigns one by itself, and
a lock file per port, held until this process exits, keeps test runs side by side on one
machine (CI beside a developer's suite) from choosing the same one.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

RANGE = (20000, 32000)  # [low, high): clipped below the ephemeral range where it is lower
LOCK_DIR = Path(tempfile.gettempdir()) / "dispatch-ports"
EPHEMERAL_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_held: dict[int, int] = {}  # port -> the open lock file's descriptor (closed at exit)


def ephemeral_low(path: Path = EPHEMERAL_FILE) -> int:
    """The first port of the kernel's ephemeral range (Linux's default when unreadable)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _lock(port: int) -> int | None:
    LOCK_DIR.mkdir(mode=0o1777, exist_ok=True)
    fd = os.open(LOCK_DIR / str(port), os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another test run holds it
        os.close(fd)
        return None
    return fd


def free_port() -> int:
    """A loopback port no other process of ours holds and the kernel will not hand out to an
    outgoing connection; this process keeps it until it exits (never handed out twice)."""
    low, high = RANGE[0], min(RANGE[1], ephemeral_low())
    if high <= low:
        raise RuntimeError(f"no port range below the ephemeral range ({high}) from {low}")
    start = random.randrange(low, high)
    for i in range(high - low):
        port = low + (start - low + i) % (high - low)
        if port in _held:
            continue
        fd = _lock(port)
        if fd is None:
            continue
        if not _bindable(port):  # in use by something that does not take our locks
            os.close(fd)
            continue
        _held[port] = fd
        return port
    raise RuntimeError(f"every port in [{low}, {high}) is taken")
