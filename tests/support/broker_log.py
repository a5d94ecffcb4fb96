"""The local broker's own account of a consumer group, for failure messages.

When a worker never takes over a dead worker's partitions, the group coordinator's lines
(members joining, failing their session, generations stabilising, assignments received) say
whether the group rebalanced at all, and when: the worker's log alone cannot.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dispatcher.settings import REPO_ROOT


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
