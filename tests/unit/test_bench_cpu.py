"""`bench e2e`'s CPU accounting from /proc: parsing, process trees, per-request cost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dispatcher.bench import e2e_cpu as cpu
from dispatcher.bench.e2e_cpu import ProcStat

# A real /proc/<pid>/stat line, its command name holding a space and a parenthesis.
STAT = (
    "4242 (python (api) x) S 4200 4242 4200 0 -1 4194560 1234 0 0 0 "
    "150 25 7 3 20 0 4 0 123456 1000000 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 "
    "17 1 0 0 0 0 0"
)

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4B00 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:4B00 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D6D8 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 4711 1 0000000000000000 100 0 0 10 0
"""  # noqa: E501


def test_stat_line_with_odd_command_name() -> None:
    s = cpu.parse_stat(STAT)
    assert (s.pid, s.ppid) == (4242, 4200)
    assert (s.own, s.reaped, s.ticks) == (175, 10, 185)


def test_own_stat_parses() -> None:
    me = cpu.parse_stat(Path(f"/proc/{os.getpid()}/stat").read_text())
    assert me.pid == os.getpid() and me.ppid == os.getppid() and me.own >= 0


def test_listening_sockets_by_port() -> None:
    assert cpu.parse_listen_inodes(TCP, 0x4B00) == {31337}  # not the established one
    assert cpu.parse_listen_inodes(TCP, 55000) == {4711}
    assert cpu.parse_listen_inodes(TCP, 1) == set()


def _stats(*rows: tuple[int, int, int]) -> dict[int, ProcStat]:
    return {pid: ProcStat(pid, ppid, ticks, 0) for pid, ppid, ticks in rows}


def test_a_tree_is_the_process_and_its_descendants() -> None:
    # 10 postmaster → 11, 12 backends → 13 (a backend's child); 20 an unrelated process.
    stats = _stats((10, 1, 100), (11, 10, 5), (12, 10, 7), (13, 12, 1), (20, 1, 999))
    assert cpu.tree(10, stats) == {10, 11, 12, 13}
    assert cpu.tree_ticks(10, stats) == 113
    assert cpu.tree(99, stats) == set()
    # Children inherit the listening socket; the server is the one whose parent lacks it.
    assert cpu.topmost([11, 10, 12], stats) == 10
    assert cpu.topmost([], stats) is None


def test_cpu_per_request_per_process_and_total() -> None:
    before = {"api": 1000, "broker": 50_000, "postgresql": 300}
    after = {"api": 1400, "broker": 50_200, "postgresql": 400}
    got = cpu.cpu_ms_per_request(before, after, requests=100, tick_hz=100)
    per = got["per_process"]
    assert isinstance(per, dict)
    # 400 ticks at 100 Hz = 4 s over 100 requests = 40 ms each.
    assert per["api"] == 40.0 and per["broker"] == 20.0 and per["postgresql"] == 10.0
    assert got["total"] == pytest.approx(70.0)
    assert got["service_total"] == pytest.approx(70.0) and got["harness_total"] == 0.0
    assert "not_judged" not in got
    # A process gone before the second reading, or started after the first: no figure for
    # it, and no total that would read low without it (tests/unit/test_bench_failures_counted).
    got = cpu.cpu_ms_per_request(before | {"gone": 5}, after | {"new": 9}, 100, 100)
    per = got["per_process"]
    assert isinstance(per, dict) and per["gone"] is None and per["new"] is None
    assert per["api"] == 40.0 and got["total"] is None and got["service_total"] is None


def test_cpu_per_request_splits_the_system_under_test_from_the_harness() -> None:
    before = {"api": 0, "worker-1": 0, "broker": 0, "postgresql": 0, "load_generator": 0}
    after = {"api": 10, "worker-1": 30, "broker": 20, "postgresql": 5, "load_generator": 4}
    before["receiver"], after["receiver"] = 100, 103
    got = cpu.cpu_ms_per_request(before, after, requests=10, tick_hz=100)
    # 65 ticks of the service, 7 of the harness, at 10 ms a tick over 10 requests.
    assert got["service_total"] == pytest.approx(65.0)
    assert got["harness_total"] == pytest.approx(7.0)
    assert got["total"] == pytest.approx(72.0)
    assert cpu.cpu_ms_per_request(before, after, requests=0, tick_hz=100)["total"] is None


def test_this_process_is_measured() -> None:
    meter = cpu.CpuMeter(roots={"me": os.getpid()})
    t0 = meter.sample()
    x = 0
    for i in range(3_000_000):  # burn some CPU so the ticks move
        x += i * i
    t1 = meter.sample()
    assert x > 0
    assert t1["me"] > t0["me"] and t1["load_generator"] > t0["load_generator"]
