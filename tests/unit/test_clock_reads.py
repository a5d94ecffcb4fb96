"""Every wall-clock read of the product goes through the one clock (`dispatcher/clock.py`):
the core takes `now` as an argument, the worker a `Clock`, the API `ApiDeps.clock`, and
command-line tools `utcnow()`. A direct read anywhere else fails here, so a test that passes a
fake clock controls all of the product's time. Measuring tools (bench/, testing/) and
durations (monotonic, perf_counter) are not wall-clock reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WALL_CLOCK = re.compile(r"\b(?:datetime\.now|datetime\.utcnow|time\.time|date\.today)\(")
CLOCK = ROOT / "dispatcher" / "clock.py"
TOOLS = (ROOT / "dispatcher" / "bench", ROOT / "dispatcher" / "testing")


def direct_reads() -> list[str]:
    found = []
    for top in ("dispatcher", "streams", "schemas"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == CLOCK or any(tool in path.parents for tool in TOOLS):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if WALL_CLOCK.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return found


def test_the_pattern_finds_a_read() -> None:
    assert WALL_CLOCK.search("issued_at=datetime.now(UTC)")
    assert WALL_CLOCK.search("ts = int(time.time())")
    assert not WALL_CLOCK.search("start = time.monotonic()")


def test_no_wall_clock_read_outside_the_clock() -> None:
    assert direct_reads() == []
