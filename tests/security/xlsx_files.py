"""Hand-made XLSX files for the attack tests: exactly the parts a reader looks at, nothing else.

Built with zipfile rather than openpyxl because openpyxl only writes honest files."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL}">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}">'
    '<sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL}">'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)

EMPTY_SST = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}"/>'

LEDGER = [
    ["姓名", "电话", "楼栋", "技能", "党员"],
    ["张建国", "13800000001", "3号楼", "开车", "是"],
    ["李秀英", "13800000002", "5栋", "护士", "否"],
]


def column_letters(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def inline_rows(rows: Iterable[list[str]], start: int = 1) -> str:
    """<row> elements with inline strings (no shared-string table needed)."""
    out = []
    for r, row in enumerate(rows, start=start):
        cells = "".join(
            f'<c r="{column_letters(c)}{r}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
            for c, v in enumerate(row, start=1)
        )
        out.append(f'<row r="{r}">{cells}</row>')
    return "".join(out)


def sheet_xml(rows_xml: str, dimension: str = "A1:E3", prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{MAIN}">'
        f'<dimension ref="{dimension}"/><sheetData>{rows_xml}</sheetData></worksheet>'
    )


def shared_rows(rows: list[list[str]]) -> tuple[str, str]:
    """The same rows through a shared-string table: (sheetData rows, sst part)."""
    strings: list[str] = []
    out = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row, start=1):
            cells.append(f'<c r="{column_letters(c)}{r}" t="s"><v>{len(strings)}</v></c>')
            strings.append(value)
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    sst = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    return "".join(out), f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">{sst}</sst>'


def build(sheet: str, shared: str | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        z.writestr("xl/sharedStrings.xml", shared or EMPTY_SST)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def build_streamed(parts: dict[str, Iterable[bytes]]) -> bytes:
    """Like build(), with parts written chunk by chunk (huge inflated parts, tiny files)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        for name, chunks in parts.items():
            with z.open(name, "w", force_zip64=True) as part:
                for chunk in chunks:
                    part.write(chunk)
    return buf.getvalue()


def repeated(head: str, unit: bytes, total: int, tail: str) -> Iterable[bytes]:
    """head + unit repeated to about `total` bytes + tail, in 1 MiB chunks."""
    yield head.encode()
    chunk = unit * max(1, (1024 * 1024) // len(unit))
    for _ in range(max(1, total // len(chunk))):
        yield chunk
    yield tail.encode()


def one_string_bomb(size: int) -> bytes:
    """A ledger whose header cell is shared string 0: `size` bytes of one letter."""
    sheet = sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', dimension="A1")
    sst = repeated(
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}"><si><t>',
        b"A",
        size,
        "</t></si></sst>",
    )
    return build_streamed(
        {"xl/worksheets/sheet1.xml": [sheet.encode()], "xl/sharedStrings.xml": sst}
    )


def many_cells(count: int) -> bytes:
    """One row of `count` empty cells: legal, and as much work as you like."""
    sheet = repeated(
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData><row r="1">',
        b"<c/>",
        count * 4,
        "</row></sheetData></worksheet>",
    )
    return build_streamed(
        {"xl/worksheets/sheet1.xml": sheet, "xl/sharedStrings.xml": [EMPTY_SST.encode()]}
    )
