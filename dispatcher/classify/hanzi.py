"""Traditional → simplified (OpenCC, phrase level), script detection and Chinese numerals.

OpenCC's `tw2sp` converts whole phrases the way a mainland reader writes them (著火 → 着火,
甚至 stays 甚至, 著名 stays 著名, 網路 → 网络), which a character table cannot do. Rules are
written once, in simplified form, and read the converted text.
"""

from __future__ import annotations

import json
import re
import threading
from bisect import bisect_right
from pathlib import Path
from typing import Any, Final, Literal

import opencc

from dispatcher.classify.matching import dispatch

_local = threading.local()

# Which characters OpenCC would change (`python -m dispatcher classify build-hanzi` writes it
# from OpenCC's own dictionaries; see `build_hanzi`).
_SETS_PATH: Final = Path(__file__).resolve().parent / "hanzi_sets.json"
_KEYS: Final = ("tw2sp_chars", "tw2sp_witnesses", "t2s_changed", "s2t_changed")


def _load_sets() -> dict[str, Any] | None:
    try:
        sets = json.loads(_SETS_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    complete = all(isinstance(sets.get(key), str) for key in _KEYS)
    return sets if complete and isinstance(sets.get("tw2sp_phrases"), list) else None


def _any_of(chars: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(chars)}]" if chars else "(?!)")


def _phrases(phrases: list[str]) -> re.Pattern[str]:
    by_first: dict[str, list[str]] = {}
    for phrase in phrases:
        by_first.setdefault(phrase[0], []).append(re.escape(phrase[1:]))
    grouped = {ch: f"{re.escape(ch)}(?:{'|'.join(rests)})" for ch, rests in by_first.items()}
    return re.compile(dispatch(grouped) or "(?!)")


_SETS: Final = _load_sets()
# A text holds a key of the tw2sp chain that converts only if it holds a character converted
# on its own, or a converted phrase of characters that are not (滑鼠 → 鼠标); the phrases are
# looked for only when one of their witnesses (one character of each, rare in chat) is
# there. Characters beyond the BMP (a few rare hanzi convert; emoji do not) are checked
# apart: one of them in a character class makes `re` test the whole class item by item.
# Without the file (while it is being rebuilt) every text goes to OpenCC.
_CONVERTED: Final = _SETS["tw2sp_chars"] if _SETS else ""
_TW2SP_CHAR: Final = (
    _any_of("".join(ch for ch in _CONVERTED if ch <= "\uffff")) if _SETS else re.compile("(?s).")
)
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")
_TW2SP_ASTRAL: Final = frozenset(ch for ch in _CONVERTED if ch > "\uffff")
_TW2SP_WITNESS: Final = _any_of(_SETS["tw2sp_witnesses"] if _SETS else "")
_TW2SP_PHRASE: Final = _phrases(_SETS["tw2sp_phrases"] if _SETS else [])


def unchanged_by_opencc(text: str) -> bool:
    """True when OpenCC's tw2sp would return `text` as it is (False: it may not)."""
    if _TW2SP_CHAR.search(text) is not None:
        return False
    if _ASTRAL.search(text) is not None and not _TW2SP_ASTRAL.isdisjoint(_ASTRAL.findall(text)):
        return False
    return _TW2SP_WITNESS.search(text) is None or _TW2SP_PHRASE.search(text) is None


def _converter(config: str) -> opencc.OpenCC:
    # One converter per thread and config: classification also runs in worker threads.
    converters: dict[str, opencc.OpenCC] | None = getattr(_local, "converters", None)
    if converters is None:
        converters = _local.converters = {}
    if config not in converters:
        converters[config] = opencc.OpenCC(config)
    return converters[config]


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


# OpenCC converts a text dictionary key by dictionary key, and no key of the `tw2sp` chain
# holds one of these marks (`tests/unit/test_classify_hanzi_sets.py` checks the installed
# dictionaries): a clause converts alone exactly as within its text. So only the clauses
# that hold a key that converts go to OpenCC, joined by a newline (itself a mark); a long
# message quoting a traditional line converts that line only.
_CLAUSE_MARKS: Final = r",.!?;:~\s。、…"
_MARKS: Final = re.compile(f"[{_CLAUSE_MARKS}]")


def to_simplified(text: str) -> str:
    """Traditional (Taiwan, Hong Kong) → simplified with mainland phrasing."""
    if unchanged_by_opencc(text):
        return text  # nothing OpenCC would change (most messages): skip it
    if "\x00" in text:
        # OpenCC stops at a NUL and drops the rest: convert the pieces between them.
        return "\x00".join(to_simplified(piece) for piece in text.split("\x00"))
    if len(text) < _CLAUSES_FROM or _ASTRAL.search(text):
        return _convert(text)
    where = [m.start() for m in _TW2SP_CHAR.finditer(text)]
    if _TW2SP_WITNESS.search(text):
        where = sorted(where + [m.start() for m in _TW2SP_PHRASE.finditer(text)])
    marks = list(_MARKS.finditer(text))
    ends = [m.start() for m in marks]  # where each clause ends
    spans: list[tuple[int, int]] = []
    for at in where:
        if spans and at < spans[-1][1]:
            continue  # in the clause already taken
        k = bisect_right(ends, at)
        spans.append((marks[k - 1].end() if k else 0, ends[k] if k < len(ends) else len(text)))
    if sum(end - start for start, end in spans) * 2 > len(text):
        return _convert(text)  # most of it: one call for all of it
    converted = _convert("\n".join(text[start:end] for start, end in spans)).split("\n")
    if len(converted) != len(spans):  # pragma: no cover - no value holds a newline
        return _convert(text)
    pieces, done = [], 0
    for (start, end), clause in zip(spans, converted, strict=True):
        pieces += [text[done:start], clause]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


# A shorter message goes to OpenCC whole: finding its clauses costs more than converting
# the rest (on the corpus joined into mixed messages, whole wins up to ~1,000 characters:
# 500 → 22 µs whole, 32 µs by clause).
_CLAUSES_FROM: Final = 1000


def _convert(text: str) -> str:
    try:
        result: str = _converter("tw2sp").convert(text)
    except UnicodeEncodeError:  # a lone surrogate: OpenCC takes UTF-8 only
        return to_simplified(_SURROGATE.sub("\ufffd", text))
    return result


# Simplified forms that are also everyday traditional characters (里 in 鄰里, 台 in 台灣,
# 准 in 批准, 于 as a surname): no evidence of the writer's script.
_AMBIGUOUS: Final = frozenset("里台干发后余范于么征郁别凶历准冲斗几")

Script = Literal["simplified", "traditional", "mixed", "unknown"]


def script_sets_from_opencc() -> tuple[str, str]:
    """CJK characters (U+4E00–U+9FFF) that `t2s` changes and that `s2t` changes."""
    cjk = [chr(code) for code in range(0x4E00, 0xA000)]
    t2s, s2t = _converter("t2s"), _converter("s2t")
    return (
        "".join(ch for ch in cjk if t2s.convert(ch) != ch),
        "".join(ch for ch in cjk if s2t.convert(ch) != ch),
    )


# Only traditional: t2s changes it. Only simplified: s2t changes it, t2s does not, and it is
# not an everyday traditional character too.
_T2S, _S2T = (_SETS["t2s_changed"], _SETS["s2t_changed"]) if _SETS else script_sets_from_opencc()
_TRADITIONAL: Final = _any_of(_T2S)
_SIMPLIFIED: Final = _any_of("".join(sorted(set(_S2T) - set(_T2S) - _AMBIGUOUS)))
_CJK: Final = re.compile("[\u4e00-\u9fff]")


def detect_script(text: str) -> Script:
    """Which script the writer used, so a reply can be written in the same one."""
    if _TRADITIONAL.search(text) is None:
        return "simplified" if _CJK.search(text) else "unknown"
    return "mixed" if _SIMPLIFIED.search(text) else "traditional"


_DIGITS: Final = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})
CN_NUMERAL_CHARS: Final = "零〇一二两三四五六七八九十百"


def parse_number(token: str) -> int | None:
    """'12' / '十二' / '二十三' / '一百零二' / '五零二' (digit by digit) → int."""
    if token.isascii() and token.isdigit():
        return int(token)
    if not token or any(ch not in CN_NUMERAL_CHARS for ch in token):
        return None
    if "十" not in token and "百" not in token:
        # Room numbers are read digit by digit: 五零二 → 502.
        return int("".join(str(_DIGITS[ch]) for ch in token))
    total, current = 0, 0
    for ch in token:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current
