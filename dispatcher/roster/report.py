"""What an import reports: problems per row and per cell, compounds seen, who retires,
and the parsed roster itself."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.helpers import HelperProfile


class RowProblem(BaseModel):
    """A row not imported: a required cell (姓名, 电话, 楼栋, 小区) is missing or unreadable."""

    row: int = Field(description="1-based row number in the file, the header being row 1")
    errors: list[str]


class CellProblem(BaseModel):
    """A cell that could not be read in a row that was imported without that cell's value."""

    row: int
    column: str = Field(description="the column's header as the file writes it")
    error: str


class CompoundSeen(BaseModel):
    compound_id: str
    name: str | None
    rows: int = Field(description="valid rows placed in this compound")
    buildings: dict[str, str] = Field(
        default_factory=dict,
        description="building name as written → id: a bot group's `buildings` map for names "
        "a chat message cannot be matched to by number or letter",
    )


class Retiree(BaseModel):
    helper_id: str
    name: str
    compound_id: str | None


class RosterReport(BaseModel):
    rows: int
    valid: int
    rejected: list[RowProblem]
    cells: list[CellProblem] = Field(default_factory=list)  # imported, that cell left out
    warnings: list[str] = Field(default_factory=list)  # about the file, e.g. ignored cells
    compounds: list[CompoundSeen] = Field(default_factory=list)
    retired: list[Retiree] = Field(
        default_factory=list,
        description="helpers an earlier ledger listed in these compounds and this one does "
        "not: deactivated (history kept), or only listed on a dry run",
    )
    retirement: str = ""  # what happened about retirement, in words
    imported: int = 0  # commands queued
    partial: bool = False
    committed: bool = False  # False: nothing was sent


class ParsedRoster(BaseModel):
    """The parse result; a model so the sandboxed parser can hand it back as JSON."""

    profiles: list[tuple[int, HelperProfile]] = Field(default_factory=list)
    problems: list[RowProblem] = Field(default_factory=list)
    cells: list[CellProblem] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    rows: int = 0

    def compounds(self) -> list[CompoundSeen]:
        seen: dict[str, CompoundSeen] = {}
        for _, p in self.profiles:
            cid = p.place.compound_id or ""
            entry = seen.setdefault(cid, CompoundSeen(compound_id=cid, name=None, rows=0))
            entry.rows += 1
            entry.name = entry.name or p.place.compound_name
            if p.place.building_name and p.place.building_id:
                entry.buildings.setdefault(p.place.building_name, p.place.building_id)
        return list(seen.values())

    def report(self) -> RosterReport:
        return RosterReport(
            rows=self.rows,
            valid=len(self.profiles),
            rejected=self.problems,
            cells=self.cells,
            warnings=self.warnings,
            compounds=self.compounds(),
        )


def held_back(what: str, rejected: int, leaving: int, dry_run: bool) -> str | None:
    """Why a re-import retires nobody now (both ledgers): a rejected row may be someone
    who is still here; a dry run only says who would go. None: retirement goes ahead."""
    if rejected and leaving:
        return (
            f"nobody retired: {rejected} row(s) rejected; fix them and import again to "
            f"retire the {leaving} {what} no longer listed"
        )
    if dry_run:
        return f"dry run: {leaving} {what} would be retired"
    return None


def retired_words(what: str, n: int) -> str:
    return f"{n} {what} no longer listed: retired"


class RosterFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns)."""
