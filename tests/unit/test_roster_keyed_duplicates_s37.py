"""Two ledger rows that become one helper once keyed: the parser compares unkeyed ids, so a
row stating (as its 编号) the keyed id another row's phone gets passed it, and both rows were
reported imported while the second UpsertHelper overwrote the first helper. The keyed ids
are compared again: the later row is refused like any duplicate ("与第N行重复")."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from dispatcher.api.roster_import import import_roster
from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.roster.ledger import RosterPlace, parse_roster
from dispatcher.settings import Settings

C = "siming-x"


class Sink:
    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    async def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append(json.loads(value))

    async def stop(self) -> None:
        pass


def _ledger(settings: Settings) -> bytes:
    k1 = keyed_helper_id(id_key(settings), C, "13800138000")
    return (
        "编号,姓名,电话,小区,楼栋,技能\n"
        ",张三,13800138000,图强小区,3号楼,开车\n"
        f"{k1},李四,13900139000,图强小区,5号楼,会飞\n"
        ",王五,13700137000,图强小区,6号楼,\n"
    ).encode()


def _run(partial: bool) -> tuple[object, list[str]]:
    settings = Settings()
    parsed = parse_roster(_ledger(settings), RosterPlace(C))
    assert parsed.problems == [] and len(parsed.profiles) == 3  # the parser cannot see it
    sink = Sink()
    report = asyncio.run(
        import_roster(
            settings, sink, parsed, community_id=C, partial=partial, now=datetime.now(UTC)
        )
    )
    ids = [c["body"]["profile"]["helper_id"] for c in sink.sent]  # type: ignore[index]
    return report, ids


def test_a_row_keyed_into_another_rows_helper_is_refused_and_nothing_is_sent() -> None:
    report, ids = _run(partial=False)
    assert [(p.row, p.errors) for p in report.rejected] == [  # type: ignore[attr-defined]
        (3, ["与第2行重复 (duplicate of row 2)"])
    ]
    assert report.valid == 2 and report.imported == 0 and not report.committed  # type: ignore[attr-defined]
    assert ids == []
    assert [c.row for c in report.cells] == []  # type: ignore[attr-defined]  # row 3's 会飞 goes with it


def test_with_partial_the_other_rows_go_each_helper_once() -> None:
    report, ids = _run(partial=True)
    assert [p.row for p in report.rejected] == [3]  # type: ignore[attr-defined]
    assert report.imported == 2 and report.committed  # type: ignore[attr-defined]
    assert len(ids) == len(set(ids)) == 2
