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
from dataclasses import dataclass
from datetime import time

from pydantic import BaseModel, Field, ValidationError

from dispatcher.roster.places import building, compound_id_for, household_id
from dispatcher.roster.xlsx import XlsxLimits, XlsxRefused, read_xlsx
from schemas.helpers import HelperProfile, TimeWindow, WeeklyWindow
from schemas.places import PlacePath
from schemas.vocab import Gender, Role, Skill

MAX_ROWS = 20_000
_ROSTER_NS = uuid.UUID("0c7f3a54-9d0e-4b61-8f0f-3a1c2b5d7e90")

# Header aliases → our field. First match wins; compared without spaces, case-insensitive.
HEADERS: dict[str, tuple[str, ...]] = {
    "helper_id": ("编号", "志愿者编号", "id", "helper_id"),
    "name": ("姓名", "名字", "name"),
    "phone": ("电话", "手机", "手机号", "手机号码", "联系电话", "phone"),
    "compound": ("小区", "小区名称", "所在小区", "院落", "compound"),
    "compound_id": ("小区编号", "compound_id"),
    "grid": ("网格", "所属网格", "网格编号", "grid"),
    "building": ("楼栋", "楼号", "楼", "住址楼栋", "building"),
    "unit": ("单元", "unit"),
    "household": ("户号", "门牌", "门牌号", "房号", "住址", "household"),
    "pairing": ("结对", "结对户", "结对对象", "结对帮扶", "paired_households"),
    "skills": ("技能", "特长", "专长", "技能特长", "skills"),
    "party": ("党员", "是否党员", "政治面貌", "party_member"),
    "availability": ("可服务时间", "服务时间", "空闲时间", "时间", "availability"),
    "roles": ("身份", "职务", "角色", "roles"),
    "gender": ("性别", "gender"),
    "platform_user_id": (
        "平台账号",
        "用户ID",
        "企业微信",
        "企业微信ID",
        "钉钉ID",
        "飞书ID",
        "platform_user_id",
    ),
    "channel": ("渠道", "推送渠道", "通知渠道", "channel", "channels"),
}
REQUIRED = ("name", "phone", "building")

SKILL_WORDS: tuple[tuple[str, tuple[Skill, ...]], ...] = (
    ("开车", (Skill.DRIVING,)),
    ("司机", (Skill.DRIVING,)),
    ("有车", (Skill.DRIVING,)),
    ("驾驶", (Skill.DRIVING,)),
    ("医生", (Skill.DOCTOR,)),
    ("医师", (Skill.DOCTOR,)),
    ("护士", (Skill.NURSE,)),
    ("护理", (Skill.NURSE,)),
    ("急救", (Skill.FIRST_AID,)),
    ("搬运", (Skill.CARRYING,)),
    ("力气", (Skill.CARRYING,)),
    ("水电", (Skill.PLUMBING, Skill.ELECTRICAL)),
    ("水管", (Skill.PLUMBING,)),
    ("电工", (Skill.ELECTRICAL,)),
    ("维修", (Skill.PLUMBING, Skill.ELECTRICAL)),
    ("照顾老人", (Skill.ELDER_CARE,)),
    ("养老", (Skill.ELDER_CARE,)),
    ("陪护", (Skill.ELDER_CARE,)),
    ("看孩子", (Skill.CHILD_CARE,)),
    ("带孩子", (Skill.CHILD_CARE,)),
    ("托管", (Skill.CHILD_CARE,)),
    ("跑腿", (Skill.ERRANDS,)),
    ("买药", (Skill.ERRANDS,)),
    ("代购", (Skill.ERRANDS,)),
    ("手机", (Skill.TECH_HELP,)),
    ("电脑", (Skill.TECH_HELP,)),
    ("法律", (Skill.LEGAL,)),
    ("律师", (Skill.LEGAL,)),
    ("闽南话", (Skill.TRANSLATION,)),
    ("翻译", (Skill.TRANSLATION,)),
    ("手语", (Skill.TRANSLATION,)),
    ("都可以", (Skill.GENERAL,)),
    ("帮忙", (Skill.GENERAL,)),
)
ROLE_WORDS: tuple[tuple[str, Role], ...] = (
    ("楼长", Role.BUILDING_HEAD),
    ("网格长", Role.GRID_LEADER),
    ("网格员", Role.GRID_WORKER),
    ("支部书记", Role.COMPOUND_PARTY_SECRETARY),
    ("社区工作人员", Role.COMMUNITY_STAFF),
    ("社工", Role.COMMUNITY_STAFF),
    ("物业", Role.PROPERTY_MANAGEMENT),
    ("共建单位", Role.CO_BUILDING_UNIT),
    ("志愿者", Role.VOLUNTEER),
)
_YES = {"是", "党员", "中共党员", "预备党员", "y", "yes", "true", "1", "✓", "√"}
_NO = {"否", "不是", "群众", "非党员", "n", "no", "false", "0", ""}
_SPLIT = re.compile(r"[、,，;；/|\s]+")
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_UNIT = re.compile(r"^(\d{1,2}|[一二三四五六七八九十])\s*(?:单元)?$")
_CN_DIGITS = {c: str(i) for i, c in enumerate("一二三四五六七八九十", start=1)}
_TIME_RANGE = re.compile(
    r"(\d{1,2})(?:[:：](\d{2}))?\s*点?\s*[-~至到—]\s*(\d{1,2})(?:[:：](\d{2}))?"
)
_DAY = r"(?:周|星期)([一二三四五六日天])"
_DAY_SPAN = re.compile(_DAY + r"\s*[至到~-]\s*(?:周|星期)?([一二三四五六日天])")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


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


class RosterFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


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


def _columns(header: list[str], where: RosterPlace) -> Columns:
    norm = [re.sub(r"\s+", "", h).lower() for h in header]
    found: dict[str, int] = {}
    for fld, aliases in HEADERS.items():
        for alias in aliases:
            if alias.lower() in norm:
                found[fld] = norm.index(alias.lower())
                break
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        names = "、".join(HEADERS[f][0] for f in missing)
        raise RosterFileError(f"missing column(s): {names}")
    if "compound" not in found and "compound_id" not in found and where.compound_id is None:
        # Without a compound the building ring cannot work: refuse rather than drop it.
        raise RosterFileError(
            "no compound: add a 小区 column (one ledger may hold many compounds) "
            "or name the compound for the whole file (--compound / compound_id)"
        )
    names = {f: header[i].strip() or HEADERS[f][0] for f, i in found.items()}
    return Columns(found, names)


def parse_skills(text: str) -> tuple[tuple[Skill, ...], list[str]]:
    skills: list[Skill] = []
    unknown: list[str] = []
    for word in (w for w in _SPLIT.split(text.strip()) if w):
        hits = [s for cue, ss in SKILL_WORDS if cue in word for s in ss]
        if hits:
            skills.extend(hits)
        else:
            unknown.append(word)
    return tuple(dict.fromkeys(skills)), unknown


def parse_party(text: str) -> bool | None:
    t = text.strip().lower()
    if t in _YES or ("党员" in t and "非" not in t):
        return True
    if t in _NO:
        return False
    return None


def _weekdays(text: str) -> tuple[int, ...] | None:
    if "工作日" in text:
        return (0, 1, 2, 3, 4)
    if "周末" in text or "双休" in text:
        return (5, 6)
    span = _DAY_SPAN.search(text)
    if span:
        a, b = _WEEKDAYS[span.group(1)], _WEEKDAYS[span.group(2)]
        return tuple(range(a, b + 1)) if a <= b else (*range(a, 7), *range(0, b + 1))
    days = re.findall(_DAY, text)
    if days:
        return tuple(sorted({_WEEKDAYS[d] for d in days}))
    if any(w in text for w in ("每天", "天天", "全天", "随时", "任何")):
        return tuple(range(7))
    return None


def _window(text: str) -> TimeWindow | None:
    m = _TIME_RANGE.search(text)
    if m:
        h1, m1, h2, m2 = int(m[1]), int(m[2] or 0), int(m[3]), int(m[4] or 0)
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
            raise ValueError("time out of range")
        if ("晚" in text or "下午" in text) and h1 < 12 and h2 <= 12:
            h1, h2 = h1 + 12, h2 + 12  # "晚上7-10点"
        return TimeWindow(start=time(h1 % 24, m1), end=time(h2 % 24, m2))
    for words, start, end in (
        (("全天", "随时", "24小时"), time(0), time(0)),
        (("上午",), time(8), time(12)),
        (("下午",), time(13), time(18)),
        (("白天",), time(8), time(18)),
        (("晚上", "夜间", "晚间"), time(18), time(22)),
    ):
        if any(w in text for w in words):
            return TimeWindow(start=start, end=end)
    return None


def parse_availability(text: str) -> tuple[WeeklyWindow, ...]:
    """ "" / 随时 → any time; "工作日晚上", "周一至周五 18:00-22:00", "周末全天" … ."""
    t = text.strip()
    if not t or t in {"随时", "全天", "任何时间", "不限"}:
        return ()
    out: list[WeeklyWindow] = []
    for part in (p for p in re.split(r"[;；,，、]+", t) if p.strip()):
        days = _weekdays(part)
        window = _window(part)
        if days is None and window is None:
            raise ValueError(f"cannot read availability {part!r}")
        out.append(
            WeeklyWindow(
                weekdays=days or tuple(range(7)),
                window=window or TimeWindow(start=time(0), end=time(0)),
            )
        )
    return tuple(out)


def helper_id_for(community_id: str, phone: str) -> str:
    """Stable across re-imports of the same ledger: an update, never a duplicate helper."""
    return "h-" + uuid.uuid5(_ROSTER_NS, f"{community_id}\n{phone}").hex[:16]


class _Row:
    """One row's cells and what went wrong with them: `fail` rejects the row, `note` only
    leaves the cell out."""

    def __init__(self, row: list[str], cols: Columns) -> None:
        self.row, self.cols = row, cols
        self.errors: list[str] = []
        self.notes: list[tuple[str, str]] = []  # (column header, error)

    def __getitem__(self, name: str) -> str:
        return self.cols.cell(self.row, name)

    def column(self, name: str) -> str:
        return self.cols.header.get(name, HEADERS[name][0])

    def fail(self, name: str, error: str) -> None:
        self.errors.append(f"{self.column(name)}: {error}")

    def note(self, name: str, error: str) -> None:
        self.notes.append((self.column(name), error))


def _compound(r: _Row, where: RosterPlace) -> tuple[str | None, str | None]:
    name = r["compound"] or None
    cid = r["compound_id"] or None
    if cid is not None and not _ID.match(cid):
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
    return cid, name


def _optional_id(r: _Row, name: str, what: str) -> str | None:
    value = r[name]
    if value and not _ID.match(value):
        r.note(name, f"{what}只能是字母、数字、-_.:@ (ignored)")
        return None
    return value or None


def parse_row(row: list[str], cols: Columns, where: RosterPlace) -> tuple[HelperProfile, _Row]:
    """One ledger row → a profile and the cells left out, or ValueError listing every
    problem that rejects the row (name, phone, building, compound)."""
    r = _Row(row, cols)
    name = r["name"]
    if not name:
        r.fail("name", "姓名为空 (name is empty)")
    elif len(name) > 64:
        r.fail("name", "姓名过长 (name longer than 64)")
    phone = re.sub(r"[\s-]", "", r["phone"]).removeprefix("+86")
    if not _PHONE.match(phone):
        r.fail("phone", "电话格式不对 (phone: 11-digit mobile or landline expected)")
    home = building(r["building"])
    if home is None:
        r.fail("building", "楼栋为空或过长 (building: e.g. 3号楼, A座, 3幢)")
    compound_id, compound_name = _compound(r, where)
    grid_id = _optional_id(r, "grid", "网格编号") or where.grid_id
    unit: str | None = None
    if unit_text := r["unit"]:
        if unit_m := _UNIT.match(unit_text):
            unit = _CN_DIGITS.get(unit_m.group(1), unit_m.group(1))
        else:
            r.note("unit", "单元无法识别 (unit: e.g. 2 or 二单元; left out)")
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
    for ref in (w for w in _SPLIT.split(r["pairing"]) if w):
        hid = household_id(ref, compound_id, home.building_id, unit)
        if hid is None:
            r.note("pairing", f"结对户无法识别 (paired household left out): {ref}")
        else:
            paired.append(hid)
    channels = [c for c in _SPLIT.split(r["channel"]) if c]
    if bad := [c for c in channels if not _ID.match(c)]:
        r.note("channel", f"渠道名称不对 (channel left out): {'、'.join(bad)}")
        channels = [c for c in channels if _ID.match(c)]
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
        )
    except ValidationError as exc:
        raise ValueError(
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        ) from exc
    return profile, r


def parse_roster(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    progress: Callable[[int], None] | None = None,
    xlsx_limits: XlsxLimits | None = None,
) -> ParsedRoster:
    numbered, warnings = read_rows(data, filename, xlsx_limits)
    rows = iter(numbered)
    try:
        _, header = next(rows)
    except StopIteration:
        raise RosterFileError("the file is empty") from None
    except (csv.Error, ValueError) as exc:
        raise RosterFileError(f"unreadable file: {exc}") from exc
    cols = _columns(header, where)
    parsed = ParsedRoster(warnings=warnings)
    phones: dict[str, int] = {}
    ids: dict[str, int] = {}
    try:
        for number, row in rows:
            if not any(c.strip() for c in row):
                continue  # blank lines between blocks are common in hand-kept ledgers
            parsed.rows += 1
            if parsed.rows > MAX_ROWS:
                raise RosterFileError(f"more than {MAX_ROWS} rows: split the file")
            if progress is not None and parsed.rows % 500 == 0:
                progress(parsed.rows)
            try:
                profile, cells = parse_row(row, cols, where)
            except ValueError as exc:
                errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else [str(exc)]
                parsed.problems.append(RowProblem(row=number, errors=errors))
                continue
            dup = phones.get(profile.phone or "") or ids.get(profile.helper_id)
            if dup is not None:
                parsed.problems.append(
                    RowProblem(row=number, errors=[f"与第{dup}行重复 (duplicate of row {dup})"])
                )
                continue
            phones[profile.phone or ""] = number
            ids[profile.helper_id] = number
            parsed.profiles.append((number, profile))
            parsed.cells.extend(CellProblem(row=number, column=c, error=e) for c, e in cells.notes)
    except csv.Error as exc:
        raise RosterFileError(f"unreadable CSV: {exc}") from exc
    if progress is not None:
        progress(parsed.rows)
    return parsed
