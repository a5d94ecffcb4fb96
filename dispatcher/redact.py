"""What may leave the process in error text and log lines: never the input that caused them.

Pydantic's `ValidationError` prints `input_value=...` (a whole command, phone included);
`describe` keeps only where and what kind of error. `mask_phones` is the last line of
defence applied to every formatted log line (dispatcher/logs.py); its `PHONE` also masks
what the optional language model is sent (dispatcher/api/llm_classifier.py).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pydantic import ValidationError

# A digit as people write one: Arabic (any width) or Chinese, spoken 幺 (1) and 两 (2) too,
# and the financial numerals (壹贰叁…; 拾 is a ten, no digit, and is in "收拾房间"). Circled,
# keycap, bold and other digit forms are folded to these first (`fold_digits`).
DIGIT = "[0-9０-９零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖]"
# What people put between digits: spaces, dashes of every width, dots, slashes, underscores,
# commas, brackets ("139.1234.5678", "139—1234—5678", "+86(139)1234-5678"): up to two marks,
# with a run of whitespace on either side counting as one ("139   1234", "139 - 1234").
# Atomic: no digit is a gap character, so the longest gap is the only one a digit can follow.
_SEPARATOR = r"[\-‐‑‒–—―－_.．。·・/／\\,，、()（）]"
DIGIT_GAP = rf"(?>\s{{0,8}}{_SEPARATOR}{{0,2}}\s{{0,8}})"
# Mainland mobile numbers however written: optionally +86/0086/86 first, any separators
# between the digits, digits spoken in Chinese ("幺三九一二三四五六七八"). Bounded, and linear:
# a digit is never a separator, so each character is read one way. Not a clock time (":" is
# no separator).
PHONE = re.compile(
    rf"(?<!{DIGIT})(?:(?:[+＋]|00)?[8８八捌][6６六陆陸]{DIGIT_GAP})?"
    rf"[1１一幺壹]{DIGIT_GAP}[3-9３-９三四五六七八九叁參肆伍陆陸柒捌玖]"
    rf"(?:{DIGIT_GAP}{DIGIT}){{9}}(?!{DIGIT})"
)
# Marks drawn on a digit: keycap (1️⃣ is "1", U+FE0F, U+20E3), enclosing circles, other
# combining marks and variation selectors.
_MARKS_ON_DIGIT = re.compile("([0-9])[\u0300-\u036f\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]{1,16}")
_A_DIGIT = re.compile(DIGIT)


@functools.lru_cache(maxsize=4096)
def _folded(char: str) -> str:
    value = unicodedata.digit(char, None)  # ①, ❶, 𝟏, １, ¹, ٣ (any script's digits)
    if value is not None:
        return str(value)
    folded = unicodedata.normalize("NFKC", char)  # ⑩ → 10, ㊀ → 一
    return folded if folded != char and _A_DIGIT.search(folded) else char


def fold_digits(text: str) -> str:
    """`text` with every digit form as a plain digit ("①③⑨", "𝟏𝟑𝟗", "1️⃣3️⃣9️⃣" → "139"),
    so the number patterns see it; everything else (punctuation, letters) as it was."""
    if not text.isascii():
        text = "".join(_folded(c) if c >= "\x80" else c for c in text)
    return _MARKS_ON_DIGIT.sub(r"\1", text)


# Any long digit run in error text (ids are not made of bare digits; phones and ID cards are).
_DIGITS = re.compile(r"\d{7,}")
MAX_REASON = 500


_NUMERAL = re.compile("[0-9０-９]")
# Place numbers: before a building, unit, floor or room word ("3栋", "十二号楼", "5#",
# "2单元"), a room after one ("栋502", "室五零二"), a lettered building ("b座"), "3-2-502".
_PLACE_WORD = "号楼|號樓|号|號|栋|棟|幢|座|#|＃|单元|單元|楼|樓|层|層|室|房|户|戶|弄"
# A number is read from its first numeral, whole (possessive): linear on any run of them.
_PLACE_NUMERAL = rf"(?:{DIGIT}|[十百])"
PLACE_NUMBER = re.compile(
    rf"(?<!{_PLACE_NUMERAL}){_PLACE_NUMERAL}++(?=\s?(?:{_PLACE_WORD}))"
    rf"|[a-zA-Zａ-ｚＡ-Ｚ](?=\s?(?:栋|棟|座|幢|区|區))"
    rf"|{DIGIT}{{1,3}}[-－]{DIGIT}{{1,2}}[-－]{DIGIT}{{1,4}}"
)
ROOM_AFTER = re.compile(rf"((?:{_PLACE_WORD})\s?){DIGIT}{{2,4}}")
# Three or more digits spoken in Chinese in a row ("五零二"): a room, a door code, a number.
_CHINESE_DIGITS = re.compile("[零〇一二三四五六七八九幺两]{3,}")


def hide(match: re.Match[str]) -> str:
    """A match as as many "#" (a `re.sub` replacement)."""
    return "#" * len(match.group())


def mask_places(text: str) -> str:
    """Place numbers (building, unit, floor, room; Arabic or Chinese numerals) as "#"."""
    text = PLACE_NUMBER.sub(hide, text)
    return ROOM_AFTER.sub(lambda m: m.group(1) + "#" * (len(m.group()) - len(m.group(1))), text)


def mask_phones(text: str) -> str:
    return PHONE.sub("[phone]", text)


def masked(text: str) -> str:
    """Free text as it may show in the clear (a department's name, a platform's error
    message): phones as [phone], place numbers and runs of Chinese digits as #, every other
    Arabic digit as # (flat, room, door, landline). Before, a flat written in Chinese
    numerals ("三号楼二单元五零二室") stayed in the clear."""
    text = _CHINESE_DIGITS.sub(hide, mask_places(mask_phones(text)))
    return _NUMERAL.sub("#", text)


def describe(exc: BaseException) -> str:
    """A one-line reason naming the exception and where it failed, without input values."""
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"  # msg, never input
            for e in exc.errors(include_input=False, include_url=False)
        ]
        text = f"{exc.error_count()} validation error(s) for {exc.title}: " + "; ".join(parts)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return _DIGITS.sub("[digits]", mask_phones(text.replace("\n", " ")))[:MAX_REASON]
