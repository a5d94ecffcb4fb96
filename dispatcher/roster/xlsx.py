"""A hardened reader for the first sheet of an XLSX ledger: hostile files are refused, not obeyed.

An XLSX is a zip of XML parts, and a general-purpose reader trusts it: openpyxl pads every row
to the sheet's claimed dimension (one cell at XFD1048576 means a million rows of 16,384 cells)
and loads the shared-string table whole (a few KB of zip can inflate to gigabytes). Here:

* every part is read through a byte counter that stops at `max_part_bytes` of *inflated* XML,
  whatever the zip's headers claim (zip bombs);
* XML is parsed with defusedxml, DTDs and entities forbidden (billion laughs, external entities);
* cells are read sparsely, as they occur: the claimed dimension is ignored, a cell below
  `max_rows` refuses the file, cells right of `max_columns` are skipped and reported, and
  `max_cells` bounds the work however the cells are spread;
* only the shared strings the kept cells refer to are kept, streamed one `<si>` at a time.

Pure: bytes in, numbered rows out. The upload path also runs this in a separate process with
memory and CPU limits (`dispatcher.roster.sandbox`), the last line of defence.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from dispatcher.numbers import NotANumber, parse_int

_MAX_SHARED = 10_000_000  # a shared-string index past this is no index (no table is that big)
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CELL_REF = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error)


class XlsxRefused(ValueError):
    """The file is not a readable ledger, or it breaks a limit; the message says which."""


@dataclass(frozen=True)
class XlsxLimits:
    max_rows: int = 50_000  # the last row a cell may sit on (a ledger row limit plus blanks)
    max_columns: int = 64  # ledgers have a dozen columns; further right is ignored
    max_cells: int = 400_000  # every <c> element counts, kept or not
    max_part_bytes: int = 32 * 1024 * 1024  # inflated bytes of any one XML part
    max_members: int = 2_000  # entries in the zip
    max_text_chars: int = 2_000  # one cell's text


@dataclass
class Sheet:
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (row number, cells)
    warnings: list[str] = field(default_factory=list)


class _Capped(io.RawIOBase):
    """A read-only stream that refuses to inflate more than `cap` bytes of one zip member."""

    def __init__(self, inner: IO[bytes], name: str, cap: int) -> None:
        self.inner, self.name, self.cap, self.seen = inner, name, cap, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(min(len(buffer), 64 * 1024))
        self.seen += len(data)
        if self.seen > self.cap:
            raise XlsxRefused(
                f"{self.name} inflates to more than {self.cap // (1024 * 1024)} MiB "
                "(a zip bomb, or far more than a ledger needs)"
            )
        buffer[: len(data)] = data
        return len(data)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


class _Book:
    def __init__(self, data: bytes, limits: XlsxLimits) -> None:
        self.limits = limits
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            members = self.zip.infolist()
        except _ZIP_ERRORS as exc:
            raise XlsxRefused(f"not a readable XLSX file ({type(exc).__name__})") from exc
        if len(members) > limits.max_members:
            raise XlsxRefused(
                f"the zip holds {len(members)} entries (at most {limits.max_members})"
            )
        self.names = {m.filename for m in members}

    def events(
        self, name: str, events: tuple[str, ...] = ("end",)
    ) -> Iterator[tuple[str, Element]]:
        """Parse one part, streaming, through the byte cap and defusedxml."""
        try:
            raw = self.zip.open(name)
        except (KeyError, RuntimeError, *_ZIP_ERRORS) as exc:
            raise XlsxRefused(f"cannot open {name} ({type(exc).__name__})") from exc
        stream = io.BufferedReader(_Capped(raw, name, self.limits.max_part_bytes))
        try:
            yield from iterparse(stream, events=events, forbid_dtd=True)
        except DefusedXmlException as exc:
            raise XlsxRefused(f"{name} declares a DTD or entities: refused ({exc})") from exc
        except ParseError as exc:
            raise XlsxRefused(f"{name} is not well-formed XML ({exc})") from exc
        except (RuntimeError, *_ZIP_ERRORS) as exc:  # bad CRC, truncated data, encryption
            raise XlsxRefused(f"cannot read {name} ({type(exc).__name__}: {exc})") from exc
        finally:
            raw.close()

    def _targets(self) -> dict[str, str]:
        """The workbook's relationships: id → part path, plus 'sharedStrings' → its path."""
        targets: dict[str, str] = {}
        name = "xl/_rels/workbook.xml.rels"
        if name not in self.names:
            return targets
        for _, el in self.events(name):
            if _local(el.tag) == "Relationship":
                target = el.get("Target", "")
                path = target.lstrip("/") if target.startswith("/") else "xl/" + target
                targets[el.get("Id", "")] = path
                if el.get("Type", "").endswith("/sharedStrings"):
                    targets["sharedStrings"] = path
        return targets

    def first_sheet_and_strings(self) -> tuple[str, str | None]:
        targets = self._targets()
        sheet: str | None = None
        if "xl/workbook.xml" in self.names:
            for _, el in self.events("xl/workbook.xml"):
                if _local(el.tag) == "sheet":
                    sheet = targets.get(el.get(f"{{{_REL_NS}}}id", ""))
                    break
        sheet = sheet or "xl/worksheets/sheet1.xml"
        if sheet not in self.names:
            raise XlsxRefused("the workbook has no worksheet")
        strings = targets.get("sharedStrings", "xl/sharedStrings.xml")
        return sheet, strings if strings in self.names else None


def _text(el: Element, limit: int) -> str:
    """The text of an inline string or a shared-string item; phonetic runs (rPh) skipped."""
    parts: list[str] = []
    for child in el:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    text = "".join(parts)
    return text[:limit]


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # phone numbers typed as numbers: 13800000001, not 1.38e10
    return text


_MAX_SHEET_ROW = 1_048_576  # the last row a worksheet has


def _row_number(attribute: str | None, previous: int) -> int:
    """A <row>'s `r` (the one after the previous row when absent). Anything but a row number
    ("abc", "²", 5000 digits: `int` raised, and the sandbox's child died of it) refuses the
    file, naming the value (at most 7 characters of it: a row number has no more)."""
    if not attribute:
        return previous + 1
    try:
        return parse_int(attribute, "a row number", lo=1, hi=_MAX_SHEET_ROW)
    except NotANumber:
        shown = attribute[:7] + ("…" if len(attribute) > 7 else "")
        raise XlsxRefused(
            f"a row numbered {shown!r} after row {previous}: a row number is a whole number "
            f"from 1 to {_MAX_SHEET_ROW} (save the sheet again from a spreadsheet program)"
        ) from None


@dataclass
class _Cells:
    """What the sheet pass keeps: plain values, and shared-string references to fill in."""

    values: dict[tuple[int, int], str] = field(default_factory=dict)
    shared: dict[tuple[int, int], int] = field(default_factory=dict)
    skipped_right: int = 0
    first_skipped: str = ""


def _read_cells(book: _Book, sheet: str) -> _Cells:
    limits = book.limits
    out = _Cells()
    count = 0
    row_number = 0
    column = 0
    parent: Element | None = None  # <sheetData>
    current: Element | None = None  # the open <row>
    for event, el in book.events(sheet, ("start", "end")):
        tag = _local(el.tag)
        if event == "start":
            if tag == "row":
                current = el
                row_number = _row_number(el.get("r"), row_number)
                column = 0
                if row_number > limits.max_rows:
                    raise XlsxRefused(
                        f"a row numbered {row_number}: ledgers are limited to "
                        f"{limits.max_rows} rows (delete stray cells far down the sheet)"
                    )
            elif tag == "sheetData":
                parent = el
            continue
        if tag == "row" and parent is not None and len(parent) and parent[-1] is el:
            parent.remove(el)  # keep memory flat: nothing of a finished row stays
            continue
        if tag != "c":
            continue
        if current is not None and len(current) and current[-1] is el:
            current.remove(el)  # a row of a million cells must not pile up either
        count += 1
        if count > limits.max_cells:
            raise XlsxRefused(f"more than {limits.max_cells} cells: split the file")
        ref = el.get("r")
        if ref and (m := _CELL_REF.match(ref)):
            column, row = _column_number(m[1]), int(m[2])
            if row > limits.max_rows:
                raise XlsxRefused(
                    f"a cell at {ref}: ledgers are limited to {limits.max_rows} rows "
                    "(delete stray cells far down the sheet; Ctrl+End shows the last one)"
                )
            row_number = row
        else:
            column += 1
        kind = el.get("t", "n")
        value_el = next((c for c in el if _local(c.tag) == "v"), None)
        inline = next((c for c in el if _local(c.tag) == "is"), None)
        el.clear()
        if column > limits.max_columns:
            out.skipped_right += 1
            out.first_skipped = out.first_skipped or (ref or f"row {row_number}")
            continue
        key = (row_number, column)
        raw = (value_el.text or "") if value_el is not None else ""
        if kind == "s":
            # No index ("²" passed `isdigit` and failed `int`: a 500 for the upload): the
            # cell reads as empty, as a non-digit one always did.
            with contextlib.suppress(NotANumber):
                out.shared[key] = parse_int(raw.strip(), "shared string", lo=0, hi=_MAX_SHARED)
        elif kind == "inlineStr":
            out.values[key] = _text(inline, limits.max_text_chars) if inline is not None else ""
        elif kind == "b":
            out.values[key] = "TRUE" if raw.strip() == "1" else "FALSE"
        elif kind in ("str", "e", "d"):
            out.values[key] = raw[: limits.max_text_chars]
        else:
            out.values[key] = _number(raw.strip())
    return out


def _fill_shared(book: _Book, part: str | None, cells: _Cells) -> None:
    if not cells.shared:
        return
    wanted: dict[int, list[tuple[int, int]]] = {}
    for key, index in cells.shared.items():
        wanted.setdefault(index, []).append(key)
    found: dict[int, str] = {}
    if part is not None:
        index = 0
        root: Element | None = None
        last = max(wanted)
        for event, el in book.events(part, ("start", "end")):
            if event == "start":
                root = root if root is not None else el
                continue
            if _local(el.tag) != "si":
                continue
            if index in wanted:
                found[index] = _text(el, book.limits.max_text_chars)
            index += 1
            if root is not None:
                root.clear()  # only the strings kept above stay in memory
            if index > last:
                break  # nothing after the highest referenced string is needed
    missing = [i for i in wanted if i not in found]
    if missing:
        raise XlsxRefused(f"cells refer to shared string {missing[0]}, which the file lacks")
    for index, keys in wanted.items():
        for key in keys:
            cells.values[key] = found[index]


def read_xlsx(data: bytes, limits: XlsxLimits | None = None) -> Sheet:
    """The first worksheet as numbered rows of text (only rows that have a cell)."""
    book = _Book(data, limits or XlsxLimits())
    sheet_part, strings_part = book.first_sheet_and_strings()
    cells = _read_cells(book, sheet_part)
    _fill_shared(book, strings_part, cells)
    sheet = Sheet()
    if cells.skipped_right:
        sheet.warnings.append(
            f"{cells.skipped_right} cell(s) right of column {book.limits.max_columns} ignored "
            f"(first: {cells.first_skipped})"
        )
    by_row: dict[int, dict[int, str]] = {}
    for (row, column), value in cells.values.items():
        by_row.setdefault(row, {})[column] = value
    for row in sorted(by_row):
        values = by_row[row]
        sheet.rows.append((row, [values.get(c, "") for c in range(1, max(values) + 1)]))
    return sheet
