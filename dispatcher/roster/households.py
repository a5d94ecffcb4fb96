"""Read a household ledger (住户台账: 独居, 高龄, 失能 … households and their paired
helpers) into households. Pure: bytes in, households and problems out.

Columns: 小区 (or the file's compound), 楼栋, 单元, 户号 required; 户主/姓名, 电话, 地址,
标签 (独居、高龄、失能、孤寡、残疾、慢病 …), 年龄 (85 and over adds 85+), 结对 (the paired
helpers: their 电话 or 编号) optional. A row is rejected only for its place (楼栋, 户号,
小区); an unknown tag word or phone is reported per cell and left out. A 楼栋 cell written
down to the flat ("3号楼2单元502室") names the building "3号楼" (its id, and so the
household's, as before), and is the household's (sealed) 地址 when that cell is empty.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from pydantic import BaseModel, Field, ValidationError

from dispatcher.roster.cells import ID, PHONE, SPLIT, phone_text
from dispatcher.roster.headers import HEADERS
from dispatcher.roster.ledger import (
    Columns,
    RosterPlace,
    _columns,
    _optional_id,
    _Row,
    check_rows,
    home_of,
    open_rows,
)
from dispatcher.roster.places import household_id
from dispatcher.roster.report import CellProblem, RowProblem
from dispatcher.roster.xlsx import XlsxLimits
from schemas.households import Household, Vulnerability
from schemas.places import PlacePath

HOUSEHOLD_HEADERS: dict[str, tuple[str, ...]] = {
    "compound": HEADERS["compound"],
    "compound_id": HEADERS["compound_id"],
    "grid": HEADERS["grid"],
    "building": HEADERS["building"],
    "unit": HEADERS["unit"],
    "household": HEADERS["household"],
    "name": ("户主", "户主姓名", "姓名", "老人姓名", "name"),
    "phone": HEADERS["phone"],
    "address": ("地址", "详细地址", "address"),
    "tags": ("标签", "人群类别", "特殊群体", "户类型", "困难类型", "tags"),
    "age": ("年龄", "age"),
    "paired": ("结对", "结对志愿者", "结对人", "帮扶人", "paired_helpers"),
}
REQUIRED_HOUSEHOLD = ("building", "household")

TAG_WORDS: tuple[tuple[str, Vulnerability], ...] = (
    ("独居", Vulnerability.LIVES_ALONE),
    ("高龄", Vulnerability.AGED_85_PLUS),
    ("85+", Vulnerability.AGED_85_PLUS),
    ("85岁以上", Vulnerability.AGED_85_PLUS),
    ("半失能", Vulnerability.DISABLED_CARE),
    ("失能", Vulnerability.DISABLED_CARE),
    ("卧床", Vulnerability.DISABLED_CARE),
    ("孤寡", Vulnerability.WIDOWED_CHILDLESS),
    ("五保", Vulnerability.WIDOWED_CHILDLESS),
    ("残疾", Vulnerability.DISABILITY),
    ("残障", Vulnerability.DISABILITY),
    ("慢病", Vulnerability.CHRONIC_ILLNESS),
    ("重病", Vulnerability.CHRONIC_ILLNESS),
    ("大病", Vulnerability.CHRONIC_ILLNESS),
)
_AGE = re.compile(r"^(\d{1,3})\s*岁?$")


def parse_tags(text: str) -> tuple[list[Vulnerability], list[str]]:
    """Tags and the words not understood."""
    tags: list[Vulnerability] = []
    unknown: list[str] = []
    for word in (w for w in SPLIT.split(text) if w):
        hits = [tag for w, tag in TAG_WORDS if w in word]
        if hits:
            tags.extend(hits)
        else:
            unknown.append(word)
    return list(dict.fromkeys(tags)), unknown


# Between two 结对 refs: any of these; a space only where it cannot be inside a phone.
_REF_SEPARATORS = re.compile(r"[、,，;；/|]+")
_DIGITS = re.compile(r"^\+?[0-9-]+$")


def paired_phone(text: str) -> str | None:
    """A phone as the helper ledger stores it (no spaces or dashes, no +86/86, full-width
    digits as ASCII: `phone_text`), or None."""
    digits = phone_text(text).removeprefix("+")
    if len(digits) == 13 and digits.startswith("86") and PHONE.match(digits[2:]):
        digits = digits[2:]
    return digits if PHONE.match(digits) else None


def _phones(tokens: list[str]) -> list[str] | None:
    """Digit groups split by spaces read as whole phones ("138 0013 8000", "+86 138 0013
    8000 139 0013 9000"), or None when some group is left over."""
    out: list[str] = []
    start = 0
    while start < len(tokens):
        for end in range(start + 1, len(tokens) + 1):
            if phone := paired_phone("".join(tokens[start:end])):
                out.append(phone)
                start = end
                break
        else:
            return None
    return out


def paired_refs(text: str) -> tuple[list[str], list[str]]:
    """A 结对 cell's helpers (a phone as `paired_phone` gives it, an 编号 as written) and what
    could not be read. Digits split by spaces are one phone, never several 编号: groups that
    make no phones ("138 0013 800", "1023 1024") are unreadable rather than guessed."""
    refs: list[str] = []
    bad: list[str] = []
    text = unicodedata.normalize("NFKC", text)  # full-width digits as ASCII, as `phone_text`
    for piece in _REF_SEPARATORS.split(text):
        tokens = piece.split()
        i = 0
        while i < len(tokens):
            j = i + 1
            if _DIGITS.match(tokens[i]):
                while j < len(tokens) and _DIGITS.match(tokens[j]):
                    j += 1
                phones = _phones(tokens[i:j])
                if phones is not None:
                    refs.extend(phones)
                elif j == i + 1 and ID.match(tokens[i]):
                    refs.append(tokens[i])  # a numeric 编号
                else:
                    bad.append(" ".join(tokens[i:j]))
            elif ID.match(tokens[i]):
                refs.append(tokens[i])
            else:
                bad.append(tokens[i])
            i = j
    return list(dict.fromkeys(refs)), bad


class HouseholdRow(BaseModel):
    household: Household
    paired_refs: list[str] = Field(
        default_factory=list, description="paired helpers as the file names them (电话 or 编号)"
    )
    row: int = Field(default=0, description="1-based row number in the file (header: 1)")


class ParsedHouseholds(BaseModel):
    rows: int = 0
    households: list[HouseholdRow] = Field(default_factory=list)
    problems: list[RowProblem] = Field(default_factory=list)
    cells: list[CellProblem] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # about the file, e.g. ignored cells
    paired_column: str = Field(default="结对", description="the 结对 header as the file writes it")


def parse_household_row(r: _Row, where: RosterPlace) -> HouseholdRow:
    home, compound_id, compound_name, unit = home_of(r, where)
    hid = None
    if home is not None and compound_id is not None:
        hid = household_id(r["household"], compound_id, home.building_id, unit)
        if hid is None:
            r.fail("household", "户号无法识别 (household: e.g. 502, 3-2-502)")
    if r.errors:
        raise ValueError(r.errors)
    assert home is not None and compound_id is not None and hid is not None
    tags, unknown = parse_tags(r["tags"])
    if unknown:
        r.note("tags", f"未知标签 (unknown tags, left out): {'、'.join(unknown)}")
    if age_text := r["age"]:
        if age_m := _AGE.match(age_text):
            if int(age_m.group(1)) >= 85:
                tags = list(dict.fromkeys([*tags, Vulnerability.AGED_85_PLUS]))
        else:
            r.note("age", "年龄无法识别 (age; left out)")
    phone = phone_text(r["phone"]) or None
    if phone is not None and not PHONE.match(phone):
        r.note("phone", "电话格式不对 (phone; left out)")
        phone = None
    refs, bad = paired_refs(r["paired"])
    for ref in bad:
        r.note("paired", f"结对志愿者请填电话或编号，用、分隔 (paired helper left out): {ref}")
    try:
        household = Household(
            household_id=hid,
            place=PlacePath(
                community_id=where.community_id,
                grid_id=_optional_id(r, "grid", "网格编号") or where.grid_id,
                compound_id=compound_id,
                compound_name=compound_name,
                building_id=home.building_id,
                building_name=home.name,
                unit=unit,
                household_id=hid,
            ),
            tags=tuple(tags),
            name=r["name"][:64] or None,
            phone=phone,
            address=(r["address"] or (r["building"] if home.trimmed else ""))[:128] or None,
        )
    except ValidationError as exc:
        raise ValueError(
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        ) from exc
    return HouseholdRow(household=household, paired_refs=refs)


def parse_households(
    data: bytes,
    where: RosterPlace,
    *,
    filename: str | None = None,
    progress: Callable[[int], None] | None = None,
    xlsx_limits: XlsxLimits | None = None,
) -> ParsedHouseholds:
    """CSV (UTF-8 or GBK) or XLSX, read like the helper ledger (the same row loop, the
    same hardened XLSX reader; uploads go through the sandbox, dispatcher/roster/sandbox.py)."""
    header, rows, warnings = open_rows(data, filename, xlsx_limits)
    cols = _columns(header, where, HOUSEHOLD_HEADERS, REQUIRED_HOUSEHOLD)
    checked = check_rows(
        rows,
        lambda row: _parse_one(row, cols, where),
        lambda hr: (hr.household.household_id,),
        progress,
    )
    return ParsedHouseholds(
        rows=checked.rows,
        households=[hr.model_copy(update={"row": n}) for n, hr in checked.good],
        problems=checked.problems,
        cells=checked.cells,
        warnings=warnings,
        paired_column=cols.header.get("paired", "结对"),
    )


def _parse_one(row: list[str], cols: Columns, where: RosterPlace) -> tuple[HouseholdRow, _Row]:
    r = _Row(row, cols)
    return parse_household_row(r, where), r
