"""A per-worker JSON-lines trace of what the dispatch agent did, for the crash tests.

Off unless `DISPATCH_TRACE_DIR` is set. Each line is written with one `write()` on an
unbuffered file, so a SIGKILL loses at most the line being written, never an earlier one.
Lines: {"k": "cmd", "p": partition, "o": offset, "c": command id, "t": type, "at": epoch s,
"i": issued at, "ow": owned since, "ck": epoch s when the commands being applied last found the
group membership confirmed (streams/membership_lease.py)} after the command's state is stored;
{"k": "fire", "p", "r": request id, "s": step,
"due": epoch s, "at": epoch s, "owned": epoch s since when this worker owns the partition};
{"k": "own", "g": generation, "ps": [partitions], "at": epoch s}.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dispatcher.clock import Clock


class Trace:
    def __init__(self, directory: Path | None, worker_name: str, clock: Clock) -> None:
        self._fd: int | None = None
        self._clock = clock
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"trace-{worker_name}.jsonl"
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def write(self, kind: str, **fields: Any) -> None:
        if self._fd is None:
            return
        line = json.dumps(
            {"k": kind, "at": self._clock.now().timestamp(), **fields}, separators=(",", ":")
        )
        os.write(self._fd, (line + "\n").encode())
