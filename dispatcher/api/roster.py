"""Read the helper ledgers communities already keep (CSV or XLSX) into helper profiles.

Pure: bytes in, a report out. Every row is validated before anything is sent; the caller
decides whether an imperfect file is imported at all (`partial`). Column headers are the
ones ledgers use (姓名, 电话/手机, 楼栋/楼号, 单元, 技能/特长, 党员, 可服务时间 …); unknown
columns are ignored, a missing required column fails the whole file.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import time

from pydantic import BaseModel, Field, ValidationError

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
    "building": ("楼栋", "楼号", "楼", "住址楼栋", "building"),
    "unit": ("单元", "unit"),
    "skills": ("技能", "特长", "专长", "技能特长", "skills"),
    "party": ("党员", "是否党员", "政治面貌", "party_member"),
    "availability": ("可服务时间", "服务时间", "空闲时间", "时间", "availability"),
    "roles": ("身份", "职务", "角色", "roles"),
    "gender": ("性别", "gender"),
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
_BUILDING = re.compile(r"^(\d{1,4})\s*(?:号楼|号|栋|幢|座|楼)?$")
_UNIT = re.compile(r"^(\d{1,2}|[一二三四五六七八九十])\s*(?:单元)?$")
_CN_DIGITS = {c: str(i) for i, c in enumerate("一二三四五六七八九十", start=1)}
_TIME_RANGE = re.compile(
    r"(\d{1,2})(?:[:：](\d{2}))?\s*点?\s*[-~至到—]\s*(\d{1,2})(?:[:：](\d{2}))?"
)
_DAY = r"(?:周|星期)([一二三四五六日天])"
_DAY_SPAN = re.compile(_DAY + r"\s*[至到~-]\s*(?:周|星期)?([一二三四五六日天])")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


class RowProblem(BaseModel):
    row: int = Field(description="1-based row number in the file, the header being row 1")
    errors: list[str]


class RosterReport(BaseModel):
    rows: int
    valid: int
    rejected: list[RowProblem]
    imported: int = 0  # commands queued
    partial: bool = False
    committed: bool = False  # False: nothing was sent


@dataclass
class ParsedRoster:
    profiles: list[tuple[int, HelperProfile]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows: int = 0

    def report(self) -> RosterReport:
        return RosterReport(rows=self.rows, valid=len(self.profiles), rejected=self.problems)


class RosterFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


@dataclass(frozen=True)
class RosterPlace:
    community_id: str
    compound_id: str | None = None
    compound_name: str | None = None
    grid_id: str | None = None


def _rows_csv(data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterFileError("the CSV is neither UTF-8 nor GBK")
    yield from csv.reader(io.StringIO(text))


def _rows_xlsx(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RosterFileError(f"not a readable XLSX file ({type(exc).__name__})") from exc
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield ["" if v is None else _cell_text(v) for v in values]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed as numbers come back as 1.38e10
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def read_rows(data: bytes, filename: str | None = None) -> Iterator[list[str]]:
    is_xlsx = data[:4] == b"PK\x03\x04" or (filename or "").lower().endswith(".xlsx")
    return _rows_xlsx(data) if is_xlsx else _rows_csv(data)


def _columns(header: list[str]) -> dict[str, int]:
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
    return found


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


def _cell(row: list[str], cols: dict[str, int], name: str) -> str:
    i = cols.get(name)
    return row[i].strip() if i is not None and i < len(row) and row[i] is not None else ""


def parse_row(row: list[str], cols: dict[str, int], where: RosterPlace) -> HelperProfile:
    """One ledger row → a profile, or ValueError listing every problem found in the row."""
    errors: list[str] = []
    name = _cell(row, cols, "name")
    if not name:
        errors.append("姓名为空 (name is empty)")
    elif len(name) > 64:
        errors.append("姓名过长 (name longer than 64)")
    phone = re.sub(r"[\s-]", "", _cell(row, cols, "phone")).removeprefix("+86")
    if not _PHONE.match(phone):
        errors.append("电话格式不对 (phone: 11-digit mobile or landline expected)")
    building_m = _BUILDING.match(_cell(row, cols, "building"))
    if not building_m:
        errors.append("楼栋无法识别 (building: e.g. 3号楼, 5栋)")
    unit_text = _cell(row, cols, "unit")
    unit: str | None = None
    if unit_text:
        unit_m = _UNIT.match(unit_text)
        if unit_m:
            unit = _CN_DIGITS.get(unit_m.group(1), unit_m.group(1))
        else:
            errors.append("单元无法识别 (unit: e.g. 2 or 二单元)")
    skills, unknown = parse_skills(_cell(row, cols, "skills"))
    if unknown:
        errors.append(f"未知技能 (unknown skills): {'、'.join(unknown)}")
    party = parse_party(_cell(row, cols, "party"))
    if party is None:
        errors.append("党员一栏请填 是/否 (party member: 是 or 否)")
    try:
        availability = parse_availability(_cell(row, cols, "availability"))
    except ValueError as exc:
        errors.append(f"可服务时间无法识别 (availability): {exc}")
        availability = ()
    roles_text = _cell(row, cols, "roles")
    roles = [r for word, r in ROLE_WORDS if word in roles_text] or [Role.VOLUNTEER]
    if party:
        roles.append(Role.PARTY_MEMBER)
    gender_text = _cell(row, cols, "gender")
    gender = {"男": Gender.MALE, "女": Gender.FEMALE}.get(gender_text)
    if gender_text and gender is None:
        errors.append("性别请填 男/女 (gender)")
    helper_id = _cell(row, cols, "helper_id") or helper_id_for(where.community_id, phone)
    if errors:
        raise ValueError(errors)
    assert building_m is not None
    number = building_m.group(1)
    try:
        return HelperProfile(
            helper_id=helper_id[:64],
            name=name,
            phone=phone,
            place=PlacePath(
                community_id=where.community_id,
                grid_id=where.grid_id,
                compound_id=where.compound_id,
                compound_name=where.compound_name,
                building_id=f"b{number}",  # the convention the bots' building hints use
                building_name=f"{number}号楼",
                unit=unit,
            ),
            roles=tuple(dict.fromkeys(roles)),
            skills=skills or (Skill.GENERAL,),
            party_member=bool(party),
            availability=availability,
            gender=gender,
        )
    except ValidationError as exc:
        raise ValueError(
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        ) from exc


def parse_roster(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ParsedRoster:
    rows = read_rows(data, filename)
    try:
        header = next(rows)
    except StopIteration:
        raise RosterFileError("the file is empty") from None
    except (csv.Error, ValueError) as exc:
        raise RosterFileError(f"unreadable file: {exc}") from exc
    cols = _columns(header)
    parsed = ParsedRoster()
    phones: dict[str, int] = {}
    ids: dict[str, int] = {}
    try:
        for number, row in enumerate(rows, start=2):
            if not any(c.strip() for c in row):
                continue  # blank lines between blocks are common in hand-kept ledgers
            parsed.rows += 1
            if parsed.rows > MAX_ROWS:
                raise RosterFileError(f"more than {MAX_ROWS} rows: split the file")
            if progress is not None and parsed.rows % 500 == 0:
                progress(parsed.rows)
            try:
                profile = parse_row(row, cols, where)
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
    except csv.Error as exc:
        raise RosterFileError(f"unreadable CSV: {exc}") from exc
    if progress is not None:
        progress(parsed.rows)
    return parsed
