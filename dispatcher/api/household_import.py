"""Import a household ledger (住户台账, CSV/XLSX): households with their tags and cards, their
结对 helpers paired through the commands topic, and households that left retired.

    python -m dispatcher households import FILE --community siming-tuqiang \
        [--compound tuqiang --compound-name 图强小区] [--grid g1] [--partial] [--dry-run] \
        [--no-retire]

The same rules as the helper ledger (dispatcher/api/roster_import.py, whose parsing, XLSX
sandbox and options this shares): every row is checked first (in a child process with
limits), rejected rows and cells left out are reported, nothing is written unless every
row is valid or `--partial`. Households an earlier ledger listed in the same compounds and
this one does not are retired (soft: their card says it is no longer in use; listed again,
they are revived with the same card), unless a row was rejected or `--no-retire`. A 结对
the ledger no longer names is ended — only the household ledger's own: pairings from the
helper ledger's 结对 column are that ledger's (HelperState.household_pairs).
Progress goes to stderr, the report (JSON, with each household's card path) to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

import asyncpg
from pydantic import BaseModel, Field

from dispatcher.api.producer import CommandSink
from dispatcher.api.roster_import import (
    ledger_parser,
    run_ledger_cli,
    say,
    send_commands,
)
from dispatcher.clock import utcnow
from dispatcher.record.db import Db
from dispatcher.record.edge import households as edge
from dispatcher.record.edge import phone_keys
from dispatcher.record.read.helpers import known_in
from dispatcher.roster.households import HouseholdRow, ParsedHouseholds, paired_phone
from dispatcher.roster.report import (
    CellProblem,
    RowProblem,
    held_back,
    retired_words,
)
from dispatcher.roster.sandbox import parse_households_isolated
from dispatcher.sealing import keyring, seal_pairing
from dispatcher.settings import Settings, get_settings
from schemas.commands import PairHousehold

WHAT = "household(s)"


class CardLink(BaseModel):
    household_id: str
    card_path: str = Field(description="print as a link or QR code on the household's card")


class RetiredHousehold(BaseModel):
    household_id: str
    compound_id: str | None
    building: str | None = Field(description="compound and building, as push messages say it")


class HouseholdReport(BaseModel):
    rows: int
    imported: int = 0
    rejected: list[RowProblem] = Field(default_factory=list)
    cells: list[CellProblem] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    tagged: int = 0  # households with at least one vulnerability tag
    pairings: int = 0  # PairHousehold commands queued
    unpaired: int = 0  # pairings this ledger no longer names, ended
    cards: list[CardLink] = Field(default_factory=list)
    retired: list[RetiredHousehold] = Field(
        default_factory=list,
        description="households an earlier ledger listed in these compounds and this one "
        "does not: their card stops making requests (or only listed, on a dry run)",
    )
    retirement: str = ""
    partial: bool = False
    committed: bool = False


async def paired_helpers(
    settings: Settings, db: Db, community_id: str, rows: list[HouseholdRow], column: str
) -> tuple[list[list[str]], list[CellProblem]]:
    """Each row's 结对 helpers, and a note for each ref that names none: a phone is the
    helper whose phone digest it is (`helper_phone_keys`, as a sign-up's approval looks it
    up: a ledger helper with an 编号 is found too), an 编号 one the community has. A ref
    naming no helper is never sent (the worker would drop the pairing unseen)."""
    ring = keyring(settings)
    phones = {ref for row in rows for ref in row.paired_refs if paired_phone(ref)}
    holders = {
        phone: await phone_keys.holders(db, community_id, ring.phone_key(phone) or "")
        for phone in phones
    }
    ids = {ref for row in rows for ref in row.paired_refs if ref not in holders}
    known = await known_in(db, community_id, ids) if ids else set()
    helpers: list[list[str]] = []
    notes: list[CellProblem] = []
    for row in rows:
        mine: list[str] = []
        for ref in row.paired_refs:
            found = holders.get(ref, [ref] if ref in known else [])
            if len(found) == 1:
                mine.append(found[0])
                continue
            what = f"电话尾号{ref[-4:]}" if ref in holders else f"编号 {ref}"
            why = (
                "对应多位志愿者，请填编号 (several helpers have this phone: name one by 编号)"
                if found
                else "不是本社区名册上的志愿者 (no helper on the roster: not paired)"
            )
            notes.append(CellProblem(row=row.row, column=column, error=f"结对{what}{why}"))
        helpers.append(list(dict.fromkeys(mine)))
    return helpers, notes


async def import_households(
    settings: Settings,
    sink: CommandSink,
    db: Db,
    parsed: ParsedHouseholds,
    *,
    community_id: str,
    partial: bool,
    now: datetime,
    dry_run: bool = False,
    retire: bool = True,
    progress: Callable[[int], None] | None = None,
) -> HouseholdReport:
    rows, problems = await _own_compound(db, parsed)
    report = HouseholdReport(
        rows=parsed.rows,
        rejected=problems,
        cells=parsed.cells,
        warnings=parsed.warnings,
        partial=partial,
    )
    helpers, unpaired = await paired_helpers(settings, db, community_id, rows, parsed.paired_column)
    report.cells = sorted([*report.cells, *unpaired], key=lambda c: c.row)
    listed = [(h.household, paired) for h, paired in zip(rows, helpers, strict=True)]
    here = {h.household_id for h, _ in listed}
    compounds = {h.place.compound_id for h, _ in listed if h.place.compound_id}
    before = {b.household_id: b for b in await edge.listed(db, community_id, compounds)}
    leaving = [b for b in before.values() if b.household_id not in here] if retire else []
    if not retire:
        report.retirement = "not checked"
    elif words := held_back(WHAT, len(problems), len(leaving), dry_run):
        report.retirement = words
        if dry_run and not (problems and leaving):
            report.retired = [_retiree(b) for b in leaving]
    if dry_run or (problems and not partial) or not listed:
        return report
    retiring = [] if problems else leaving
    pairs = [
        PairHousehold(helper_id=helper_id, household_id=household.household_id)
        for household, helpers in listed
        for helper_id in dict.fromkeys(helpers)
    ]
    # Pairings this ledger named before and no longer does, and those of households leaving.
    ended = [
        PairHousehold(helper_id=helper_id, household_id=household.household_id, paired=False)
        for household, helpers in listed
        if household.household_id in before
        for helper_id in before[household.household_id].paired_helper_ids
        if helper_id not in helpers
    ] + [
        PairHousehold(helper_id=helper_id, household_id=b.household_id, paired=False)
        for b in retiring
        for helper_id in b.paired_helper_ids
    ]
    ring = keyring(settings)  # households travel keyed, like the requests' places (12.7)
    pairs = [seal_pairing(ring, community_id, p) for p in pairs]
    ended = [seal_pairing(ring, community_id, p) for p in ended]
    # Pairings first: a card that works before its helpers are paired would skip them.
    report.pairings = await send_commands(
        settings, sink, community_id, pairs, now, progress=progress
    )
    report.unpaired = await send_commands(settings, sink, community_id, ended, now)
    tokens = await edge.record(db, listed, now)
    report.imported = len(listed)
    report.tagged = sum(1 for h, _ in listed if h.tags)
    report.cards = [
        CardLink(household_id=h.household_id, card_path=f"/card/{tokens[h.household_id]}")
        for h, _ in listed
    ]
    report.committed = True
    if retire and not problems:
        await edge.retire(db, community_id, [b.household_id for b in retiring], now)
        report.retired = [_retiree(b) for b in retiring]
        report.retirement = retired_words(WHAT, len(retiring))
    return report


async def _own_compound(
    db: Db, parsed: ParsedHouseholds
) -> tuple[list[HouseholdRow], list[RowProblem]]:
    """The rows to import, and the rejected ones: a household stored for another compound
    is rejected here, before a pairing is sent for it (its card would send this row's
    contact; `edge.record` refuses it too)."""
    taken = await edge.foreign(db, [r.household for r in parsed.households])
    if not taken:
        return parsed.households, parsed.problems
    refused = [
        RowProblem(
            row=r.row,
            errors=[
                f"户号: 已是另一个小区 ({taken[r.household.household_id]}) 的住户 (household "
                "id of another compound's household: not imported)"
            ],
        )
        for r in parsed.households
        if r.household.household_id in taken
    ]
    kept = [r for r in parsed.households if r.household.household_id not in taken]
    return kept, sorted([*parsed.problems, *refused], key=lambda p: p.row)


def _retiree(b: edge.Listed) -> RetiredHousehold:
    return RetiredHousehold(
        household_id=b.household_id, compound_id=b.compound_id, building=b.building_label
    )


USAGE = "usage: python -m dispatcher households import FILE --community C [options]"


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] != "import":
        print(f"{USAGE}\n(`households import --help` for the options)", file=sys.stderr)
        return 0 if args_in[:1] in (["-h"], ["--help"]) else 2
    parser = ledger_parser(
        "households import",
        "Import a CSV/XLSX household ledger (住户台账: tags, 结对, contact cards) and retire "
        "the households that left.",
        "households",
    )
    args = parser.parse_args(args_in[1:])

    async def run(
        parsed: ParsedHouseholds, sink: CommandSink, conn: asyncpg.Connection
    ) -> HouseholdReport:
        return await import_households(
            get_settings(),
            sink,
            conn,
            parsed,
            community_id=args.community,
            partial=args.partial,
            now=utcnow(),  # the command line's clock: no API here
            dry_run=args.dry_run,
            retire=not args.no_retire,
            progress=say("pairings queued"),
        )

    code, report = run_ledger_cli(args, parse_households_isolated, run)
    for gone in report.retired if report is not None else ():
        print(f"retired: {gone.household_id} ({gone.building})", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
