"""Import a helper ledger (CSV/XLSX): validate every row, then queue UpsertHelper commands.

    python -m dispatcher roster-import FILE --community siming-xian \
        [--compound tuqiang --compound-name 图强小区] [--grid g1] [--partial] [--dry-run] \
        [--no-retire] [--welcome]

A whole community's ledger has a 小区 column; a one-compound file names its compound with
--compound instead. Prints progress to stderr and the report (JSON) to stdout: rejected
rows, cells left out, compounds found, who was retired. Nothing is sent unless every row
is valid, or `--partial` says to import the valid rows anyway. Re-running is safe: helper
ids are derived from (community, phone), so an import is an upsert. Helpers an earlier
ledger listed in the same compounds and this one does not are retired (deactivated, history
kept), unless a row was rejected or `--no-retire`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

import asyncpg

from dispatcher.api.platform_login import accounts as platform_accounts
from dispatcher.api.producer import CommandSink, KafkaCommandSink
from dispatcher.clock import utcnow
from dispatcher.helper_ids import keyed_profile
from dispatcher.record.connect import connect
from dispatcher.record.db import Db
from dispatcher.record.edge import phone_keys
from dispatcher.record.edge.roster_members import RosterMembers
from dispatcher.record.read.helpers import helpers_elsewhere
from dispatcher.roster.ledger import ParsedRoster, RosterFileError, RosterPlace
from dispatcher.roster.report import Retiree, RosterReport, RowProblem, held_back, retired_words
from dispatcher.roster.sandbox import parse_isolated
from dispatcher.sealing import keyring, seal_profile
from dispatcher.settings import Settings, get_settings
from schemas.commands import CommandBody, DeactivateHelper, UpsertHelper, new_command
from schemas.helper_messages import WelcomeHelper

T = TypeVar("T")
CHUNK = 200  # concurrent sends: aiokafka batches them, acks=all still holds per command


async def send_commands(
    settings: Settings,
    sink: CommandSink,
    community_id: str,
    bodies: Sequence[CommandBody],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    sent = 0
    for start in range(0, len(bodies), CHUNK):
        chunk = bodies[start : start + CHUNK]
        await asyncio.gather(
            *(
                sink.send(
                    settings.commands_topic,
                    community_id,
                    new_command(body, community_id=community_id, issued_at=now)
                    .model_dump_json()
                    .encode(),
                )
                for body in chunk
            )
        )
        sent += len(chunk)
        if progress is not None:
            progress(sent)
    return sent


def _refuse(parsed: ParsedRoster, refused: dict[int, str]) -> ParsedRoster:
    """These rows (row → why) become rejected rows, like any bad row: out of the profiles,
    their cells' notes with them."""
    if not refused:
        return parsed
    problems = [*parsed.problems, *(RowProblem(row=n, errors=[e]) for n, e in refused.items())]
    update = {
        "profiles": [(n, p) for n, p in parsed.profiles if n not in refused],
        "problems": sorted(problems, key=lambda p: p.row),
        "cells": [c for c in parsed.cells if c.row not in refused],
    }
    return parsed.model_copy(update=update)


def _refuse_duplicates(parsed: ParsedRoster) -> ParsedRoster:
    """Rows that became one helper once keyed (a row's stated 编号 is another row's keyed id)
    are duplicates like the parser's, which compared the unkeyed ids."""
    seen: dict[str, int] = {}
    refused: dict[int, str] = {}
    for n, p in parsed.profiles:
        if (d := seen.setdefault(p.helper_id, n)) != n:
            refused[n] = f"与第{d}行重复 (duplicate of row {d})"
    return _refuse(parsed, refused)


ELSEWHERE = "编号已属于其他社区的志愿者 (helper id belongs to another community: use another 编号)"


async def _refuse_elsewhere(db: Db, community_id: str, parsed: ParsedRoster) -> ParsedRoster:
    """Rows naming another community's helper become rejected rows, like any bad row."""
    taken = await helpers_elsewhere(db, community_id, [p.helper_id for _, p in parsed.profiles])
    return _refuse(parsed, {n: ELSEWHERE for n, p in parsed.profiles if p.helper_id in taken})


async def import_roster(
    settings: Settings,
    sink: CommandSink,
    parsed: ParsedRoster,
    *,
    community_id: str,
    partial: bool,
    now: datetime,
    dry_run: bool = False,
    members: RosterMembers | None = None,
    progress: Callable[[int], None] | None = None,
    db: Db | None = None,
    welcome: bool = False,
) -> RosterReport:
    """Queue the valid rows; with `members`, retire whom earlier ledgers listed in the same
    compounds and this one does not — only when no row was rejected (a rejected row may be
    someone who is still here). With `db`, a row naming another community's helper is
    rejected, and the platform accounts are remembered."""
    # The parser names helpers by an unkeyed hash of the phone; keyed ids go out instead
    # (and are what retirement compares and records).
    parsed = parsed.model_copy(
        update={"profiles": [(row, keyed_profile(settings, p)) for row, p in parsed.profiles]}
    )
    parsed = _refuse_duplicates(parsed)
    if db is not None:
        parsed = await _refuse_elsewhere(db, community_id, parsed)
    report = parsed.report()
    report.partial = partial
    leaving: list[Retiree] = []
    if members is not None and parsed.profiles:
        compounds = {p.place.compound_id for _, p in parsed.profiles if p.place.compound_id}
        present = {p.helper_id for _, p in parsed.profiles}
        leaving = [
            m for m in await members.listed(community_id, compounds) if m.helper_id not in present
        ]
    if members is None:
        report.retirement = "not checked"
    elif words := held_back("helper(s)", len(parsed.problems), len(leaving), dry_run):
        report.retirement = words
        if dry_run and not (parsed.problems and leaving):
            report.retired = leaving
    if dry_run or (parsed.problems and not partial) or not parsed.profiles:
        return report
    profiles = [p for _, p in parsed.profiles]
    ring = keyring(settings)  # phones travel sealed
    upserts = [UpsertHelper(profile=seal_profile(ring, p)) for p in profiles]
    if db is not None:  # the platform accounts the answer page's login looks up
        await platform_accounts.remember(db, settings, community_id, profiles, now)
        # and the phones' digests a sign-up's approval compares (one phone, one helper)
        keys = [(p.helper_id, ring.phone_key(p.phone) if p.active else None) for p in profiles]
        await phone_keys.remember(db, community_id, keys, now)
    report.imported = await send_commands(settings, sink, community_id, upserts, now, progress)
    report.committed = True
    if welcome:  # after the upserts (same key, so in order); the welcomed are skipped
        welcomes = [WelcomeHelper(helper_id=p.helper_id) for p in profiles]
        await send_commands(settings, sink, community_id, welcomes, now)
    if members is not None:
        retiring = [] if parsed.problems else leaving
        await send_commands(
            settings,
            sink,
            community_id,
            [DeactivateHelper(helper_id=m.helper_id) for m in retiring],
            now,
        )
        await members.record(community_id, profiles, [m.helper_id for m in retiring], now)
        if not parsed.problems:
            report.retired = retiring
            report.retirement = retired_words("helper(s)", len(retiring))
    return report


def ledger_parser(prog: str, description: str, who: str) -> argparse.ArgumentParser:
    """The options both ledger imports take (helpers and households)."""
    parser = argparse.ArgumentParser(prog=f"python -m dispatcher {prog}", description=description)
    parser.add_argument("file", type=Path, help="the ledger, .csv (UTF-8 or GBK) or .xlsx")
    parser.add_argument("--community", required=True, help="community id")
    parser.add_argument("--compound", help="compound id for rows without a 小区 cell")
    parser.add_argument("--compound-name", help="its display name, e.g. 图强小区")
    parser.add_argument("--grid", help="grid id for rows without a 网格 cell")
    parser.add_argument("--partial", action="store_true", help="import the valid rows anyway")
    parser.add_argument("--dry-run", action="store_true", help="validate only; list retirees")
    parser.add_argument(
        "--no-retire", action="store_true", help=f"do not retire {who} the ledger no longer lists"
    )
    return parser


def ledger_place_of(args: argparse.Namespace) -> RosterPlace:
    return RosterPlace(args.community, args.compound, args.compound_name, args.grid)


def say(what: str) -> Callable[[int], None]:
    """Progress on stderr (stdout is the report)."""
    return lambda n: print(f"{what}: {n}", file=sys.stderr, flush=True)


async def with_sink_and_db(
    settings: Settings, work: Callable[[CommandSink, asyncpg.Connection], Awaitable[T]]
) -> T:
    """A command line's Kafka producer and PostgreSQL connection, for one piece of work."""
    sink = KafkaCommandSink(settings)
    conn = await connect(settings.pg_dsn.get_secret_value())
    try:
        return await work(sink, conn)
    finally:
        await sink.stop()
        await conn.close()


class LedgerReport(Protocol):
    rejected: Sequence[object]
    committed: bool

    def model_dump_json(self, *, indent: int | None = None) -> str: ...


P = TypeVar("P")
R = TypeVar("R", bound=LedgerReport)


def run_ledger_cli(
    args: argparse.Namespace,
    parse: Callable[..., P],
    work: Callable[[P, CommandSink, asyncpg.Connection], Awaitable[R]],
) -> tuple[int, R | None]:
    """A ledger command line: parse the file in the sandbox (the same limits as an upload to
    the API), do the work with a producer and a connection, print the report (stdout).
    Exit 2 for a file that cannot be read, 1 when rejected rows stopped the import."""
    try:
        parsed = parse(
            args.file.read_bytes(), ledger_place_of(args), filename=args.file.name, progress=True
        )
    except (RosterFileError, OSError) as exc:  # OSError: not readable (not PostgreSQL's)
        print(f"cannot import {args.file}: {exc}", file=sys.stderr)
        return 2, None
    settings = get_settings()
    report = asyncio.run(with_sink_and_db(settings, lambda sink, db: work(parsed, sink, db)))
    print(report.model_dump_json(indent=2))
    if report.rejected and not report.committed and not args.dry_run:
        print(
            f"{len(report.rejected)} row(s) rejected: nothing imported (use --partial)",
            file=sys.stderr,
        )
        return 1, report
    return 0, report


def main(argv: list[str] | None = None) -> int:
    parser = ledger_parser(
        "roster-import",
        "Import a CSV/XLSX helper ledger (one compound, or a whole community with a 小区 "
        "column) and retire who left.",
        "helpers",
    )
    parser.add_argument(
        "--welcome", action="store_true", help="send the welcome to whoever has not had it"
    )
    args = parser.parse_args(argv)

    async def run(
        parsed: ParsedRoster, sink: CommandSink, conn: asyncpg.Connection
    ) -> RosterReport:
        return await import_roster(
            get_settings(),
            sink,
            parsed,
            community_id=args.community,
            partial=args.partial,
            now=utcnow(),  # the command line's clock: no API here
            dry_run=args.dry_run,
            members=None if args.no_retire else RosterMembers(conn),
            progress=say("helpers queued"),
            db=conn,
            welcome=args.welcome,
        )

    return run_ledger_cli(args, parse_isolated, run)[0]


if __name__ == "__main__":
    raise SystemExit(main())
