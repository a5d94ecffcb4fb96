"""Each table has one home: SQL naming the projection or the API's edge tables lives only in
dispatcher/record/ (read/ for the projection, edge/ for the API's own tables, projection.py
and retention.py for the writes). A query written anywhere else fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "dispatcher" / "record" / "migrations"
# Every table a migration creates, so a new table is covered without editing this test.
CREATED = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)
TABLES = "|".join(
    sorted(
        {t for p in MIGRATIONS.glob("*.sql") for t in CREATED.findall(p.read_text("utf-8"))}
        | {"schema_migrations"}
    )
)
SQL = re.compile(rf"\b(?:FROM|INTO|UPDATE|JOIN)\s+({TABLES})\b")


def offenders(under: Path, allowed: Path) -> list[str]:
    found = []
    for path in sorted(under.rglob("*.py")):
        if allowed in path.parents:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SQL.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return found


def test_the_tables_come_from_the_migrations() -> None:
    for table in ("requests", "offers", "api_intake", "platform_logins", "schema_migrations"):
        assert re.fullmatch(TABLES, table), table


def test_the_pattern_finds_a_query() -> None:
    assert SQL.search('"SELECT status FROM offers WHERE offer_id = $1"')
    assert SQL.search("UPDATE api_intake SET resent = resent + 1")
    assert not SQL.search("read from the requests table")  # prose is not a query


def test_no_table_is_queried_outside_dispatcher_record() -> None:
    allowed = ROOT / "dispatcher" / "record"
    found = offenders(ROOT / "dispatcher", allowed) + offenders(ROOT / "streams", allowed)
    assert found == []
