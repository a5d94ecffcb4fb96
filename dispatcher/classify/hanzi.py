"""Traditional → simplified (OpenCC, phrase level), script detection and Chinese numerals.

OpenCC's `tw2sp` converts whole phrases the way a mainland reader writes them (著火 → 着火,
甚至 stays 甚至, 著名 stays 著名, 網路 → 网络), which a character table cannot do. Rules are
written once, in simplified form, and read the converted text.
"""

from __future__ import annotations

import re
import threading
from typing import Final, Literal

import opencc

_local = threading.local()


def _converter(config: str) -> opencc.OpenCC:
    # One converter per thread and config: classification also runs in worker threads.
    converters: dict[str, opencc.OpenCC] | None = getattr(_local, "converters", None)
    if converters is None:
        converters = _local.converters = {}
    if config not in converters:
        converters[config] = opencc.OpenCC(config)
    return converters[config]


def to_simplified(text: str) -> str:
    """Traditional (Taiwan, Hong Kong) → simplified with mainland phrasing."""
    result: str = _converter("tw2sp").convert(text)
    return result


# Simplified forms that are also everyday traditional characters (里 in 鄰里, 台 in 台灣,
# 准 in 批准, 于 as a surname): no evidence of the writer's script.
_AMBIGUOUS: Final = frozenset("里台干发后余范于么征郁别凶历准冲斗几")

Script = Literal["simplified", "traditional", "mixed", "unknown"]


def _char_script(ch: str) -> tuple[bool, bool]:
    """(only traditional, only simplified) for one CJK character."""
    trad = _converter("t2s").convert(ch) != ch
    simp = not trad and ch not in _AMBIGUOUS and _converter("s2t").convert(ch) != ch
    return trad, simp


_CJK: Final = re.compile("[\u4e00-\u9fff]")
# Characters looked up so far (OpenCC once per character per process) and those found to be
# only traditional / only simplified. A character joins _SEEN after its class, so a reader in
# another thread never sees it seen but unclassified. Only the BMP is remembered (bounded).
_SEEN: Final[set[str]] = set()
_TRADITIONAL: Final[set[str]] = set()
_SIMPLIFIED: Final[set[str]] = set()


def detect_script(text: str) -> Script:
    """Which script the writer used, so a reply can be written in the same one."""
    chars = set(text)
    for ch in chars - _SEEN:
        if _CJK.match(ch):
            trad, simp = _char_script(ch)
            if trad:
                _TRADITIONAL.add(ch)
            if simp:
                _SIMPLIFIED.add(ch)
        if ch <= "\uffff":
            _SEEN.add(ch)
    trad = not _TRADITIONAL.isdisjoint(chars)
    if trad and not _SIMPLIFIED.isdisjoint(chars):
        return "mixed"
    if trad:
        return "traditional"
    return "simplified" if _CJK.search(text) else "unknown"


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
