"""Migration 0415 masks legacy text in SQL as `dispatcher.redact.masked` does in Python. Its
list of digit forms must be every character `fold_digits` reads as a digit (Arabic or Chinese),
or a phone typed in one of them would stay in the clear; this reads the list out of the file."""

from __future__ import annotations

import re
import unicodedata
from importlib import resources

from dispatcher.redact import DIGIT, fold_digits

SQL = (
    resources.files("dispatcher.record") / "migrations" / "0415_forget_legacy_closing_texts.sql"
).read_text(encoding="utf-8")
_ESCAPE = re.compile(r"\\u([0-9a-f]{4})|\\U([0-9a-f]{8})")


def _sql_digit_forms() -> set[int]:
    # The first bracket: '[0-9' then one quoted piece per line, then ']'.
    start = SQL.index("regexp_replace(t, '[0-9'")
    body = SQL[start : SQL.index("|| ']'", start)]
    pieces = "".join(re.findall(r"\|\| '([^']*)'", body))
    points = [int(a or b, 16) for a, b in _ESCAPE.findall(pieces)]
    assert _ESCAPE.sub("", pieces).replace("-", "") == ""  # escapes and ranges only
    found: set[int] = set()
    it = iter(_ESCAPE.finditer(pieces))
    for m in it:
        first = int(m.group(1) or m.group(2), 16)
        if pieces[m.end() : m.end() + 1] == "-":
            last = next(it)
            found.update(range(first, int(last.group(1) or last.group(2), 16) + 1))
        else:
            found.add(first)
    assert points  # the list was read
    return found


def test_the_sql_digit_forms_are_those_fold_digits_folds() -> None:
    folded = {
        cp
        for cp in range(0x80, 0x110000)
        if unicodedata.category(chr(cp)) not in ("Cs", "Cn")
        and (f := fold_digits(chr(cp))) != chr(cp)
        and re.search(DIGIT, f)
    }
    assert _sql_digit_forms() == folded
