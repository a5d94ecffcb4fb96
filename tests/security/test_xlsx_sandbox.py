"""The last line: whatever a file makes the parser do happens in a child process with memory,
CPU and wall-clock limits. Each test loosens the reader's own caps so that only the sandbox
stands between the file and the machine, then shows the sandbox refusing."""

from __future__ import annotations

import pytest

from dispatcher.roster.ledger import RosterFileError, RosterPlace
from dispatcher.roster.sandbox import SandboxLimits, parse_isolated, parse_isolated_async
from dispatcher.roster.xlsx import XlsxLimits
from tests.security.xlsx_files import (
    LEDGER,
    build,
    inline_rows,
    many_cells,
    one_string_bomb,
    sheet_xml,
)

WHERE = RosterPlace("siming", "tuqiang", "图强小区", "g1")
NO_CAPS = XlsxLimits(max_part_bytes=1 << 40, max_cells=1 << 40)
# 20 million cells: tens of seconds of CPU at any plausible speed, against a 1 s limit.
WORK = 20_000_000


def test_an_honest_file_comes_back_parsed() -> None:
    parsed = parse_isolated(build(sheet_xml(inline_rows(LEDGER))), WHERE)
    assert parsed.rows == 2 and [p.name for _, p in parsed.profiles] == ["张建国", "李秀英"]


def test_memory_limit_stops_what_the_caps_let_through() -> None:
    bomb = one_string_bomb(512 * 1024 * 1024)  # one 512 MiB string: more than the limit
    limits = SandboxLimits(memory_mib=300, xlsx=NO_CAPS)
    with pytest.raises(RosterFileError, match="300 MiB"):
        parse_isolated(bomb, WHERE, limits=limits)


def test_cpu_limit_kills_endless_work() -> None:
    limits = SandboxLimits(cpu_seconds=1, wall_seconds=600, xlsx=NO_CAPS)
    with pytest.raises(RosterFileError, match="more than 1 s of CPU"):
        parse_isolated(many_cells(WORK), WHERE, limits=limits)


async def test_wall_clock_limit_kills_the_child_from_the_event_loop() -> None:
    limits = SandboxLimits(cpu_seconds=600, wall_seconds=1, xlsx=NO_CAPS)
    with pytest.raises(RosterFileError, match="longer than 1 s"):
        await parse_isolated_async(many_cells(WORK), WHERE, limits=limits)
