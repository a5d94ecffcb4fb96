"""Import a helper ledger (CSV/XLSX): validate every row, then queue UpsertHelper commands.

    python -m dispatcher.api.roster_import FILE --community siming-xian --compound tuqiang \
        [--compound-name 图强小区] [--grid g1] [--partial] [--dry-run]

Prints progress to stderr and the row-by-row report (JSON) to stdout. Nothing is sent
unless every row is valid, or `--partial` says to import the valid rows anyway. Re-running
is safe: helper ids are derived from (community, phone), so an import is an upsert.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.api.producer import CommandSink, KafkaCommandSink
from dispatcher.api.roster import (
    ParsedRoster,
    RosterFileError,
    RosterPlace,
    RosterReport,
    parse_roster,
)
from dispatcher.helper_ids import keyed_profile
from dispatcher.settings import Settings, get_settings
from schemas.commands import UpsertHelper, new_command

CHUNK = 200  # concurrent sends: aiokafka batches them, acks=all still holds per command


async def send_profiles(
    settings: Settings,
    sink: CommandSink,
    parsed: ParsedRoster,
    progress: Callable[[int], None] | None = None,
) -> int:
    sent = 0
    now = datetime.now(UTC)
    # The parser names helpers by an unkeyed hash of the phone; keyed ids go out instead.
    profiles = [keyed_profile(settings, p) for _, p in parsed.profiles]
    for start in range(0, len(profiles), CHUNK):
        chunk = profiles[start : start + CHUNK]
        await asyncio.gather(
            *(
                sink.send(
                    settings.commands_topic,
                    p.community_id,
                    new_command(UpsertHelper(profile=p), community_id=p.community_id, issued_at=now)
                    .model_dump_json()
                    .encode(),
                )
                for p in chunk
            )
        )
        sent += len(chunk)
        if progress is not None:
            progress(sent)
    return sent


async def import_roster(
    settings: Settings,
    sink: CommandSink,
    parsed: ParsedRoster,
    *,
    partial: bool,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RosterReport:
    report = parsed.report()
    report.partial = partial
    if dry_run or (parsed.problems and not partial) or not parsed.profiles:
        return report
    report.imported = await send_profiles(settings, sink, parsed, progress)
    report.committed = True
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatcher.api.roster_import")
    parser.add_argument("file", type=Path)
    parser.add_argument("--community", required=True)
    parser.add_argument("--compound")
    parser.add_argument("--compound-name")
    parser.add_argument("--grid")
    parser.add_argument("--partial", action="store_true", help="import the valid rows anyway")
    parser.add_argument("--dry-run", action="store_true", help="validate only")
    args = parser.parse_args(argv)
    settings = get_settings()
    where = RosterPlace(args.community, args.compound, args.compound_name, args.grid)

    def say(what: str) -> Callable[[int], None]:
        return lambda n: print(f"{what}: {n}", file=sys.stderr, flush=True)

    try:
        parsed = parse_roster(
            args.file.read_bytes(), where, filename=args.file.name, progress=say("rows checked")
        )
    except RosterFileError as exc:
        print(f"cannot import {args.file}: {exc}", file=sys.stderr)
        return 2

    async def run() -> RosterReport:
        sink = KafkaCommandSink(settings)
        try:
            return await import_roster(
                settings,
                sink,
                parsed,
                partial=args.partial,
                dry_run=args.dry_run,
                progress=say("helpers queued"),
            )
        finally:
            await sink.stop()

    report = asyncio.run(run())
    print(report.model_dump_json(indent=2))
    if report.rejected and not report.committed and not args.dry_run:
        print(
            f"{len(report.rejected)} row(s) rejected: nothing imported (use --partial)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
