"""Traditional → simplified (OpenCC, phrase level), script detection and Chinese numerals.

OpenCC's `tw2sp` converts whole phrases the way a mainland reader writes them (著火 → 着火,
甚至 stays 甚至, 著名 stays 著名, 網路 → 网络), which a character table cannot do. Rules are
written once, in simplified form, and read the converted text.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Final, Literal

import opencc

_local = threading.local()

# Which characters OpenCC would change (`python -m dispatcher classify build-hanzi` writes it
# from OpenCC's own dictionaries; see `build_hanzi`).
_SETS_PATH: Final = Path(__file__).resolve().parent / "hanzi_sets.json"
_KEYS: Final = ("tw2sp_chars", "tw2sp_witnesses", "t2s_changed", "s2t_changed")


def _load_sets() -> dict[str, str] | None:
    try:
        sets = json.loads(_SETS_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return sets if all(isinstance(sets.get(key), str) for key in _KEYS) else None


def _any_of(chars: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(chars)}]" if chars else "(?!)")


_SETS: Final = _load_sets()
# A text with none of these holds no key of the tw2sp chain that converts (a character
# converted on its own, or one character of each converted phrase): OpenCC would return it
# unchanged. Characters beyond the BMP (a few rare ones convert) always go to OpenCC.
# Without the file (while it is being rebuilt) every text goes to OpenCC.
_TW2SP_TOUCHES: Final = (
    re.compile(
        f"[{re.escape(_SETS['tw2sp_chars'] + _SETS['tw2sp_witnesses'])}\U00010000-\U0010ffff]"
    )
    if _SETS
    else re.compile("(?s).")
)


def _converter(config: str) -> opencc.OpenCC:
    # One converter per thread and config: classification also runs in worker threads.
    converters: dict[str, opencc.OpenCC] | None = getattr(_local, "converters", None)
    if converters is None:
        converters = _local.converters = {}
    if config not in converters:
        converters[config] = opencc.OpenCC(config)
    return converters[config]


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def to_simplified(text: str) -> str:
    """Traditional (Taiwan, Hong Kong) → simplified with mainland phrasing."""
    if _TW2SP_TOUCHES.search(text) is None:
        return text  # nothing OpenCC would change (most messages): skip it
    if "\x00" in text:
        # OpenCC stops at a NUL and drops the rest: convert the pieces between them.
        return "\x00".join(to_simplified(piece) for piece in text.split("\x00"))
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
