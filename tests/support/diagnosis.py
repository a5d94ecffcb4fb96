"""What a failed takeover says about itself: the worker's log without its noise, and the
local broker's own account of the consumer group.

When a worker never takes over a dead worker's partitions, the group coordinator's lines
(members joining, failing their session, generations stabilising, assignments received) say
whether the group rebalanced at all, and when; the worker's log says how far it got (its
recovery tables, `generation not served` reports from streams/faust_recovery.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import Proc

# Under load Faust warns of every late timer tick; they would fill a log tail.
NOISE = ("is overlapping",)


def server_log() -> Path:
    """`deploy/local/stack.sh`'s broker log (DISPATCH_STACK_DIR, default <repo>/.stack)."""
    stack = Path(os.environ.get("DISPATCH_STACK_DIR") or REPO_ROOT / ".stack")
    return stack / "kafka" / "logs" / "server.log"


def group_lines(group: str, limit: int = 40, log: Path | None = None) -> list[str]:
    """The last `limit` coordinator lines naming exactly `group` (not `<group>-record`)."""
    pattern = re.compile(rf"[Gg]roup {re.escape(group)}(?![\w.-])")
    try:
        text = (log or server_log()).read_text(errors="replace")
    except FileNotFoundError:
        return [f"(no broker log at {log or server_log()})"]
    lines = [line[:400] for line in text.splitlines() if pattern.search(line)]
    return lines[-limit:]


def group_story(group: str, limit: int = 40) -> str:
    return f"--- broker: group {group} ---\n" + "\n".join(group_lines(group, limit))


def worker_story(proc: Proc, lines: int = 60) -> str:
    """Whether the worker is alive and the end of its log, timer-overlap warnings left out."""
    try:
        text = proc.log_path.read_text(errors="replace")
    except FileNotFoundError:
        text = ""
    kept = [line for line in text.splitlines() if not any(n in line for n in NOISE)]
    return f"--- {proc.name} (alive: {proc.alive()}) ---\n" + "\n".join(kept[-lines:])
