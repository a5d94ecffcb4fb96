"""CPU time per process, read from the OS (Linux /proc), for `bench e2e`'s cost per request.

A process's CPU is its tree's: utime + stime of every live member, plus cutime + cstime
(children that exited and were reaped), so PostgreSQL counts the postmaster and all its
backends, and a worker its subprocesses. The broker and PostgreSQL are found by the port
they listen on (/proc/net/tcp → socket inode → the process holding it). The parsing and
the arithmetic are pure; `snapshot` is the one place that reads /proc.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TCP_LISTEN = "0A"


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    own: int  # utime + stime, in clock ticks
    reaped: int  # cutime + cstime: children that exited and were waited for

    @property
    def ticks(self) -> int:
        return self.own + self.reaped


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat (or /proc/<pid>/task/<tid>/stat) line. The command name is in
    parentheses and may itself contain spaces and parentheses: split after the last ')'."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ProcStat(pid, ppid, utime + stime, cutime + cstime)


def parse_listen_inodes(text: str, port: int) -> set[int]:
    """Socket inodes listening on `port` in a /proc/net/tcp or tcp6 table."""
    inodes: set[int] = set()
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 10 or cols[3] != TCP_LISTEN:
            continue
        local_port = int(cols[1].rsplit(":", 1)[1], 16)
        if local_port == port:
            inodes.add(int(cols[9]))
    return inodes


def tree(root: int, stats: Mapping[int, ProcStat]) -> set[int]:
    """`root` and every live descendant."""
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in out or pid not in stats:
            continue
        out.add(pid)
        todo.extend(children.get(pid, ()))
    return out


def topmost(pids: Iterable[int], stats: Mapping[int, ProcStat]) -> int | None:
    """Of processes sharing a socket (a server and the children that inherited it), the one
    whose parent is not among them."""
    found = set(pids) & set(stats)
    roots = sorted(p for p in found if stats[p].ppid not in found)
    return roots[0] if roots else None


def tree_ticks(root: int, stats: Mapping[int, ProcStat]) -> int:
    return sum(stats[p].ticks for p in tree(root, stats))


# The measuring harness (the bench process and its receiver thread), not the system under
# test (API, workers, broker, PostgreSQL): both run on the same cores.
HARNESS = frozenset({"load_generator", "receiver"})


def cpu_ms_per_request(
    before: Mapping[str, int],
    after: Mapping[str, int],
    requests: int,
    tick_hz: int,
    expected: Collection[str] = (),
) -> dict[str, object]:
    """Per group (ticks before and after a window): CPU ms per request, and the total, split
    into `service_total` (the system under test) and `harness_total` (HARNESS). A group
    not read on both sides (one of `expected` never found, or a process gone) is None, and
    so is every total it belongs to: a total without it would read low and pass for
    judged; `not_judged` says which were not read. `failed` when no request was served."""
    per: dict[str, float | None] = {}
    ticks_of = {"service": 0, "harness": 0}
    unread = _unread(before, after, expected)
    for name in sorted(set(before) | set(after) | set(expected)):
        if name in unread or requests <= 0:
            per[name] = None
            continue
        ticks = max(0, after[name] - before[name])
        ticks_of["harness" if name in HARNESS else "service"] += ticks
        per[name] = round(ticks * 1000 / tick_hz / requests, 3)

    def ms(ticks: int, complete: bool = True) -> float | None:
        return round(ticks * 1000 / tick_hz / requests, 3) if requests > 0 and complete else None

    service_read = not any(name not in HARNESS for name in unread)
    harness_read = not any(name in HARNESS for name in unread)
    out: dict[str, object] = {
        "total": ms(ticks_of["service"] + ticks_of["harness"], not unread),
        "service_total": ms(ticks_of["service"], service_read),
        "harness_total": ms(ticks_of["harness"], harness_read),
        "per_process": per,
        "requests": requests,
    }
    if unread:
        out["not_judged"] = "CPU not read of " + ", ".join(
            f"{name} ({side})" for name, side in sorted(unread.items())
        )
    if requests <= 0:
        out["failed"] = "no request served"
    return out


def _unread(
    before: Mapping[str, int], after: Mapping[str, int], expected: Collection[str]
) -> dict[str, str]:
    """Each group not read on both sides of the window: on which it is missing."""
    out: dict[str, str] = {}
    for name in set(before) | set(after) | set(expected):
        sides = [side for side, got in (("before", before), ("after", after)) if name not in got]
        if sides:
            out[name] = " and ".join(sides)
    return out


# ------------------------------------------------------------------ reading /proc
def read_stats() -> dict[int, ProcStat]:
    stats: dict[int, ProcStat] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return stats


def own_ticks(exclude_threads: Iterable[int] = ()) -> int:
    """This process's own CPU (not its children: the API and workers are counted apart),
    less the given threads' (e.g. the receiver's)."""
    own = parse_stat((PROC / "self" / "stat").read_text()).own
    return own - sum(thread_ticks(t) for t in exclude_threads)


def thread_ticks(tid: int) -> int:
    """A thread of this process: its utime + stime."""
    try:
        return parse_stat((PROC / "self" / "task" / str(tid) / "stat").read_text()).own
    except OSError:
        return 0


def listening_pid(port: int, stats: Mapping[int, ProcStat]) -> int | None:
    """The process listening on TCP `port` on this machine (None if not visible to us)."""
    inodes: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            inodes |= parse_listen_inodes((PROC / "net" / table).read_text(), port)
        except OSError:
            continue
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    holders: list[int] = []
    for pid in stats:
        try:
            fds = os.listdir(PROC / str(pid) / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(PROC / str(pid) / "fd" / fd) in wanted:
                    holders.append(pid)
                    break
            except OSError:
                continue
    return topmost(holders, stats)


def tick_hz() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def parse_start_ticks(text: str) -> int:
    """A /proc/<pid>/stat line's `starttime` (field 22): clock ticks after boot."""
    return int(text.rpartition(")")[2].split()[19])


def age_s(stat_text: str, uptime_text: str, hz: int) -> float:
    """How long ago the process of `stat_text` started, given /proc/uptime's text."""
    return float(uptime_text.split()[0]) - parse_start_ticks(stat_text) / hz


def process_age_s(pid: int) -> float | None:
    """Seconds since `pid` started; None if it cannot be read (gone, or not ours to see)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        uptime = (PROC / "uptime").read_text()
    except OSError:
        return None
    return age_s(stat, uptime, tick_hz())


@dataclass
class CpuMeter:
    """Named process trees (API, workers, broker, PostgreSQL) plus this process (the load
    generator) and its receiver thread; `sample()` gives ticks per name."""

    roots: dict[str, int]
    receiver_tid: int | None = None

    def sample(self) -> dict[str, int]:
        stats = read_stats()
        out: dict[str, int] = {}
        for name, pid in self.roots.items():
            if pid in stats:
                out[name] = tree_ticks(pid, stats)
        receiver = [self.receiver_tid] if self.receiver_tid is not None else []
        out["load_generator"] = own_ticks(receiver)
        if self.receiver_tid is not None:
            out["receiver"] = thread_ticks(self.receiver_tid)
        return out
