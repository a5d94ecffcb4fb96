"""Read the helper ledgers communities already keep (CSV or XLSX) into helper profiles.

Pure: bytes in, a report out. Every row is validated before anything is sent; the caller
decides whether an imperfect file is imported at all (`partial`). Column headers are the
ones ledgers use (姓名, 电话/手机, 小区, 网格, 楼栋/楼号, 单元, 户号, 结对, 技能/特长, 党员,
可服务时间, 身份, 性别, 平台账号, 渠道 …); unknown columns are ignored, a missing required
column fails the whole file.

One ledger may hold a whole community: a 小区 column places each row (the compound's id is
its 小区编号 or derived from its name), else the caller names one compound for the file.
A row is rejected only when a cell it cannot do without is wrong (姓名, 电话, 楼栋, 小区);
any other unreadable cell is reported per cell and left out (an unknown skill word drops
that word, not the helper).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import ValidationError

from dispatcher.roster.cells import (
    CN_DIGITS,
    ID,
    PHONE,
    ROLE_WORDS,
    SPLIT,
    UNIT,
    parse_availability,
    parse_party,
    parse_skills,
    parse_teams,
    phone_text,
)
from dispatcher.roster.headers import HEADERS, REQUIRED
from dispatcher.roster.places import (
    Building,
    building,
    compound_id_for,
    flat_in,
    household_id,
)
from dispatcher.roster.report import (
    CellProblem,
    ParsedRoster,
    RosterFileError,
    RowProblem,
)
from dispatcher.roster.xlsx import XlsxLimits, XlsxRefused, read_xlsx
from schemas.helpers import HelperProfile
from schemas.places import PlacePath
from schemas.text import UNSTORABLE, unstorable
from schemas.vocab import Gender, Role, Skill

MAX_ROWS = 20_000
_ROSTER_NS = uuid.UUID("0c7f3a54-9d0e-4b61-8f0f-3a1c2b5d7e90")


@dataclass(frozen=True)
class RosterPlace:
    community_id: str
    compound_id: str | None = None
    compound_name: str | None = None
    grid_id: str | None = None


Rows = Iterable[tuple[int, list[str]]]  # (row number as the file counts it, cells)


def _rows_csv(data: bytes) -> Iterator[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterFileError("the CSV is neither UTF-8 nor GBK")
    yield from enumerate(csv.reader(io.StringIO(text)), start=1)


def read_rows(
    data: bytes, filename: str | None = None, limits: XlsxLimits | None = None
) -> tuple[Rows, list[str]]:
    """Numbered rows and warnings about the file. XLSX goes through the hardened reader."""
    is_xlsx = data[:4] == b"PK\x03\x04" or (filename or "").lower().endswith(".xlsx")
    if not is_xlsx:
        return _rows_csv(data), []
    try:
        sheet = read_xlsx(data, limits)
    except XlsxRefused as exc:
        raise RosterFileError(str(exc)) from exc
    return sheet.rows, sheet.warnings


@dataclass(frozen=True)
class Columns:
    index: dict[str, int]  # our field → column index
    header: dict[str, str]  # our field → the header as the file writes it

    def cell(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        return row[i].strip() if i is not None and i < len(row) and row[i] is not None else ""


def _columns(
    header: list[str],
    where: RosterPlace,
    headers: dict[str, tuple[str, ...]] = HEADERS,
    required: tuple[str, ...] = REQUIRED,
) -> Columns:
    norm = [re.sub(r"\s+", "", h).lower() for h in header]
    found: dict[str, int] = {}
    for fld, aliases in headers.items():
        for alias in aliases:
            if alias.lower() in norm:
                found[fld] = norm.index(alias.lower())
                break
    missing = [f for f in required if f not in found]
    if missing:
        names = "、".join(headers[f][0] for f in missing)
        raise RosterFileError(f"missing column(s): {names}")
    if "compound" not in found and "compound_id" not in found and where.compound_id is None:
        # Without a compound the building ring cannot work: refuse rather than drop it.
        raise RosterFileError(
            "no compound: add a 小区 column (one ledger may hold many compounds) "
            "or name the compound for the whole file (--compound / compound_id)"
        )
    names = {f: header[i].strip() or headers[f][0] for f, i in found.items()}
    return Columns(found, names)


def helper_id_for(community_id: str, phone: str) -> str:
    """Stable across re-imports of the same ledger: an update, never a duplicate helper."""
    return "h-" + uuid.uuid5(_ROSTER_NS, f"{community_id}\n{phone}").hex[:16]


# What a spreadsheet runs as a formula when the text is opened again (a report, an export):
# =, @, a leading tab or CR; + or - followed by words or a call, not a phone or a number.
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-].*[A-Za-z(])")


def looks_like_formula(text: str) -> bool:
    return bool(_FORMULA.match(text))


class _Row:
    """One row's cells and what went wrong with them: `fail` rejects the row, `note` only
    leaves the cell out."""

    def __init__(self, row: list[str], cols: Columns) -> None:
        self.row, self.cols = row, cols
        self.errors: list[str] = []
        self.notes: list[tuple[str, str]] = []  # (column header, error)
        for name in cols.index:
            if looks_like_formula(self[name]):
                self.fail(name, "公式不能导入 (a formula: the row is refused)")
            elif why := unstorable(self[name]):
                self.fail(name, f"含有无法保存的字符 ({why}: the row is refused)")
        if self.errors:  # the rest of the checks echo cells: never the unstorable characters
            self.row = [UNSTORABLE.sub("\ufffd", c) if isinstance(c, str) else c for c in row]

    def __getitem__(self, name: str) -> str:
        return self.cols.cell(self.row, name)

    def column(self, name: str) -> str:
        return self.cols.header.get(name) or HEADERS.get(name, (name,))[0]

    def fail(self, name: str, error: str) -> None:
        self.errors.append(f"{self.column(name)}: {error}")

    def note(self, name: str, error: str) -> None:
        self.notes.append((self.column(name), error))


def _compound(r: _Row, where: RosterPlace) -> tuple[str | None, str | None]:
    name = r["compound"] or None
    cid = r["compound_id"] or None
    if cid is not None and not ID.match(cid):
        r.fail("compound_id", "小区编号只能是字母、数字、-_.: (compound id: letters, digits, -_.:)")
        return None, name
    if cid is None and name is not None:
        same = name == where.compound_name and where.compound_id is not None
        cid = where.compound_id if same else compound_id_for(where.community_id, name)
    if cid is None:
        cid, name = where.compound_id, name or where.compound_name
    if cid is None:
        r.fail("compound", "小区为空 (compound is empty)")
    elif len(name or "") > 64:
        r.fail("compound", "小区名称过长 (compound name longer than 64)")
    elif r["compound"] and flat_in(r["compound"]):  # shown to every helper, as 楼栋 is
        r.fail(
            "compound",
            "小区只填小区名称：楼栋、单元、户号、电话请填在各自的栏 "
            "(compound: its name only; building, unit, room and phone go in their columns)",
        )
    return cid, name


def _optional_id(r: _Row, name: str, what: str) -> str | None:
    value = r[name]
    if value and not ID.match(value):
        r.note(name, f"{what}只能是字母、数字、-_.:@ (ignored)")
        return None
    return value or None


def _org_name(r: _Row, name: str) -> str | None:
    """支部 / 党小组: recorded as written (at most 64 characters)."""
    value = r[name]
    if len(value) > 64:
        r.note(name, "名称过长 (longer than 64; left out)")
        return None
    return value or None


def home_of(
    r: _Row, where: RosterPlace
) -> tuple[Building | None, str | None, str | None, str | None]:
    """The row's building (a rejection when unreadable), compound id and name, and unit.
    A 楼栋 cell written down to the flat ("3号楼2单元502室") is named by its building (the
    name every push and group text shows), and noted; one with a phone in it, or a room
    and no building, rejects the row."""
    home = building(r["building"])
    if home is None:
        r.fail("building", _building_refused(r["building"]))
    elif home.trimmed:
        r.note(
            "building",
            f"楼栋只保留楼号「{home.name}」，单元、楼层、户号请填在单元、户号栏 "
            f"(building: only {home.name} is kept; the unit and room belong in 单元 and 户号)",
        )
    compound_id, compound_name = _compound(r, where)
    unit: str | None = None
    if unit_text := r["unit"]:
        if unit_m := UNIT.match(unit_text):
            unit = CN_DIGITS.get(unit_m.group(1), unit_m.group(1))
        else:
            r.note("unit", "单元无法识别 (unit: e.g. 2 or 二单元; left out)")
    return home, compound_id, compound_name, unit


def _building_refused(cell: str) -> str:
    """Why a 楼栋 cell names no building, never quoting it (a phone, a flat)."""
    why = flat_in(cell)
    if why == "phone":
        return (
            "楼栋栏里有电话号码：电话请填在电话栏，楼栋只填楼号，如 3号楼 "
            "(building holds a phone number: put it in 电话; the building only, e.g. 3号楼)"
        )
    if why == "flat":
        return (
            "楼栋只填楼号，如 3号楼、A座；单元、户号请填在单元、户号栏 "
            "(building: the building only, e.g. 3号楼; the unit and room go in 单元 and 户号)"
        )
    return "楼栋为空或过长 (building: e.g. 3号楼, A座, 3幢)"


def parse_row(row: list[str], cols: Columns, where: RosterPlace) -> tuple[HelperProfile, _Row]:
    """One ledger row → a profile and the cells left out, or ValueError listing every
    problem that rejects the row (name, phone, building, compound)."""
    r = _Row(row, cols)
    name = r["name"]
    if not name:
        r.fail("name", "姓名为空 (name is empty)")
    elif len(name) > 64:
        r.fail("name", "姓名过长 (name longer than 64)")
    phone = phone_text(r["phone"])
    if not PHONE.match(phone):
        r.fail("phone", "电话格式不对 (phone: 11-digit mobile or landline expected)")
    home, compound_id, compound_name, unit = home_of(r, where)
    grid_id = _optional_id(r, "grid", "网格编号") or where.grid_id
    skills, unknown = parse_skills(r["skills"])
    if unknown:
        r.note("skills", f"未知技能 (unknown skills, left out): {'、'.join(unknown)}")
    party = parse_party(r["party"])
    if party is None:
        r.note("party", "党员一栏请填 是/否 (party member: 是 or 否; taken as 否)")
    try:
        availability = parse_availability(r["availability"])
    except ValueError as exc:
        r.note("availability", f"可服务时间无法识别 (availability; taken as any time): {exc}")
        availability = ()
    roles_text = r["roles"]
    roles = [role for word, role in ROLE_WORDS if word in roles_text] or [Role.VOLUNTEER]
    if "党员" in roles_text and party is not True:  # 党员楼长: the role says it
        party = True
    if party:
        roles.append(Role.PARTY_MEMBER)
    gender = {"男": Gender.MALE, "女": Gender.FEMALE}.get(r["gender"])
    if r["gender"] and gender is None:
        r.note("gender", "性别请填 男/女 (gender; left out)")
    helper_id = r["helper_id"] or helper_id_for(where.community_id, phone)
    if r.errors:  # rejected: list every problem of the row, so one fix-up pass suffices
        raise ValueError(r.errors + [f"{column}: {error}" for column, error in r.notes])
    assert home is not None and compound_id is not None
    household = None
    if r["household"]:
        household = household_id(r["household"], compound_id, home.building_id, unit)
        if household is None:
            r.note("household", "户号无法识别 (household: e.g. 502, 3-2-502; left out)")
    paired: list[str] = []
    for ref in (w for w in SPLIT.split(r["pairing"]) if w):
        hid = household_id(ref, compound_id, home.building_id, unit)
        if hid is None:
            r.note("pairing", f"结对户无法识别 (paired household left out): {ref}")
        else:
            paired.append(hid)
    channels = [c for c in SPLIT.split(r["channel"]) if c]
    if bad := [c for c in channels if not ID.match(c)]:
        r.note("channel", f"渠道名称不对 (channel left out): {'、'.join(bad)}")
        channels = [c for c in channels if ID.match(c)]
    teams, leads, bad_teams = parse_teams(r["teams"], leads_all="队长" in roles_text)
    if bad_teams:
        r.note("teams", f"团队名称不对 (team left out): {'、'.join(bad_teams)}")
    party_org = {k: _org_name(r, k) for k in ("party_branch", "party_group")}
    platform_user_id = r["platform_user_id"] or None
    if platform_user_id is not None and len(platform_user_id) > 128:
        r.note("platform_user_id", "平台账号过长 (platform user id longer than 128; left out)")
        platform_user_id = None
    try:
        profile = HelperProfile(
            helper_id=helper_id[:64],
            name=name,
            phone=phone,
            place=PlacePath(
                community_id=where.community_id,
                grid_id=grid_id,
                compound_id=compound_id,
                compound_name=compound_name,
                building_id=home.building_id,
                building_name=home.name,
                unit=unit,
                household_id=household,
            ),
            roles=tuple(dict.fromkeys(roles)),
            skills=skills or (Skill.GENERAL,),
            party_member=bool(party),
            availability=availability,
            gender=gender,
            paired_household_ids=tuple(dict.fromkeys(paired)),
            channels=tuple(dict.fromkeys(channels)),
            platform_user_id=platform_user_id,
            teams=tuple(teams),
            leads_teams=tuple(leads),
            **party_org,
        )
    except ValidationError as exc:
        raise ValueError(
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        ) from exc
    return profile, r


def open_rows(
    data: bytes, filename: str | None = None, limits: XlsxLimits | None = None
) -> tuple[list[str], Iterator[tuple[int, list[str]]], list[str]]:
    """The header row, the numbered rows after it, and warnings about the file."""
    numbered, warnings = read_rows(data, filename, limits)
    rows = iter(numbered)
    try:
        _, header = next(rows)
    except StopIteration:
        raise RosterFileError("the file is empty") from None
    except (csv.Error, ValueError) as exc:
        raise RosterFileError(f"unreadable file: {exc}") from exc
    return header, rows, warnings


T = TypeVar("T")


@dataclass
class Checked(Generic[T]):
    """Every row of a ledger checked: the good ones (with their row numbers), the rejected
    rows and the cells left out of good ones."""

    rows: int = 0
    good: list[tuple[int, T]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    cells: list[CellProblem] = field(default_factory=list)


def check_rows(
    rows: Rows,
    parse_one: Callable[[list[str]], tuple[T, _Row]],
    keys: Callable[[T], Iterable[str]],
    progress: Callable[[int], None] | None = None,
) -> Checked[T]:
    """The row loop both ledgers share: blank lines skipped, at most MAX_ROWS, each row
    parsed (ValueError: rejected with its errors), a row whose key an earlier row had is a
    duplicate, progress every 500 rows."""
    out: Checked[T] = Checked()
    seen: dict[str, int] = {}
    try:
        for number, row in rows:
            if not any(c.strip() for c in row):
                continue  # blank lines between blocks are common in hand-kept ledgers
            out.rows += 1
            if out.rows > MAX_ROWS:
                raise RosterFileError(f"more than {MAX_ROWS} rows: split the file")
            if progress is not None and out.rows % 500 == 0:
                progress(out.rows)
            try:
                item, cells = parse_one(row)
            except ValueError as exc:
                errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else [str(exc)]
                out.problems.append(RowProblem(row=number, errors=errors))
                continue
            mine = list(keys(item))
            dup = next((seen[k] for k in mine if k in seen), None)
            if dup is not None:
                out.problems.append(
                    RowProblem(row=number, errors=[f"与第{dup}行重复 (duplicate of row {dup})"])
                )
                continue
            seen.update(dict.fromkeys(mine, number))
            out.good.append((number, item))
            out.cells.extend(CellProblem(row=number, column=c, error=e) for c, e in cells.notes)
    except csv.Error as exc:
        raise RosterFileError(f"unreadable CSV: {exc}") from exc
    if progress is not None:
        progress(out.rows)
    return out


def parse_roster(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    progress: Callable[[int], None] | None = None,
    xlsx_limits: XlsxLimits | None = None,
) -> ParsedRoster:
    header, rows, warnings = open_rows(data, filename, xlsx_limits)
    cols = _columns(header, where)
    checked = check_rows(
        rows,
        lambda row: parse_row(row, cols, where),
        lambda p: (f"phone:{p.phone or ''}", f"id:{p.helper_id}"),
        progress,
    )
    return ParsedRoster(
        profiles=checked.good,
        problems=checked.problems,
        cells=checked.cells,
        warnings=warnings,
        rows=checked.rows,
    )
