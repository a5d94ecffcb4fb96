"""What may leave the process in error text and log lines: never the input that caused them.

Pydantic's `ValidationError` prints `input_value=...` (a whole command, phone included);
`describe` keeps only where and what kind of error. `mask_phones` is the last line of
defence applied to every formatted log line (dispatcher/logs.py); its `PHONE` also masks
what the optional language model is sent (dispatcher/api/llm_classifier.py). All of them
(`mask_phones`, `masked`, `describe`) read digits as folded by `fold_digits` first, so a
phone typed in circled, keycap, bold, full-width or another script's digits is masked too.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pydantic import ValidationError

# A digit as people write one: Arabic (any width) or Chinese, spoken 幺 (1) and 两 (2) too,
# and the financial numerals (壹贰叁…; 拾 is a ten, no digit, and is in "收拾房间"). Circled,
# keycap, bold and other digit forms are folded to these first (`fold_digits`).
_CHINESE_DIGIT = "零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖"
DIGIT = f"[0-9０-９{_CHINESE_DIGIT}]"
# What people put between digits: spaces, dashes of every width, dots, slashes, underscores,
# commas, brackets ("139.1234.5678", "139—1234—5678", "+86(139)1234-5678"): up to two marks,
# with a run of whitespace on either side counting as one ("139   1234", "139 - 1234").
# Invisible characters count as whitespace: soft hyphen, zero-width space/joiners, direction
# marks, word joiner, BOM ("138\u200b0013\u200b8000" shows as 13800138000).
# Atomic: no digit is a gap character, so the longest gap is the only one a digit can follow.
_SEPARATOR = r"[\-‐‑‒–—―－_.．。·・/／\\,，、()（）]"
_BLANK = r"[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]"
DIGIT_GAP = rf"(?>{_BLANK}{{0,8}}{_SEPARATOR}{{0,2}}{_BLANK}{{0,8}})"
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


def _folding(text: str) -> tuple[str, list[int]]:
    """`fold_digits(text)` and, for each of its characters, the index in `text` of the
    character it comes from (so a match in the folded text can be masked in `text`)."""
    pieces = [_folded(c) if c >= "\x80" else c for c in text]
    once = "".join(pieces)
    origin = [i for i, piece in enumerate(pieces) for _ in piece]
    kept: list[tuple[int, int]] = []  # the spans of `once` that stay: all but digits' marks
    start = 0
    for mark in _MARKS_ON_DIGIT.finditer(once):
        kept.append((start, mark.end(1)))
        start = mark.end()
    kept.append((start, len(once)))
    return "".join(once[a:b] for a, b in kept), [i for a, b in kept for i in origin[a:b]]


def fold_digits(text: str) -> str:
    """`text` with every digit form as a plain digit ("①③⑨", "𝟏𝟑𝟗", "1️⃣3️⃣9️⃣" → "139"),
    so the number patterns see it; everything else (punctuation, letters) as it was."""
    return text if text.isascii() else _folding(text)[0]


def _sub_folded(pattern: re.Pattern[str], replacement: str, text: str) -> str:
    """`pattern.sub(replacement, text)` as read in `fold_digits(text)`: each match replaces
    the characters of `text` it was folded from (a keycap's marks included); the rest of
    `text` stays exactly as it was. Linear: one pass of the pattern over the folded text."""
    if text.isascii():
        return pattern.sub(replacement, text)
    folded, origin = _folding(text)
    out: list[str] = []
    done = 0  # `text` up to here is written out
    for match in pattern.finditer(folded):
        start, end = match.span()
        after = origin[end] if end < len(folded) else len(text)
        out += [text[done : max(done, origin[start])], replacement]
        done = max(done, after, origin[end - 1] + 1)  # "㈨" is "(九)": all of it goes
    out.append(text[done:])
    return "".join(out)


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
# Three or more Chinese digits in a row ("五零二", "伍零贰"): a room, a door code, a number.
_CHINESE_DIGITS = re.compile(f"[{_CHINESE_DIGIT}]{{3,}}")


def hide(match: re.Match[str]) -> str:
    """A match as as many "#" (a `re.sub` replacement)."""
    return "#" * len(match.group())


def mask_places(text: str) -> str:
    """Place numbers (building, unit, floor, room; Arabic or Chinese numerals) as "#"."""
    text = PLACE_NUMBER.sub(hide, text)
    return ROOM_AFTER.sub(lambda m: m.group(1) + "#" * (len(m.group()) - len(m.group(1))), text)


def mask_phones(text: str) -> str:
    """Phones in any digit form as [phone]; every other character as it was (a log line)."""
    return _sub_folded(PHONE, "[phone]", text)


def masked(text: str) -> str:
    """Free text as it may show in the clear (a department's name, a platform's error
    message): digit forms folded (`fold_digits`), phones as [phone], place numbers and runs
    of Chinese digits as #, every other Arabic digit as # (flat, room, door, landline).
    Before, a flat written in Chinese numerals ("三号楼二单元五零二室") stayed in the clear."""
    text = _CHINESE_DIGITS.sub(hide, mask_places(PHONE.sub("[phone]", fold_digits(text))))
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
    text = fold_digits(text.replace("\n", " "))  # "①③⑧…", "𝟏𝟑𝟖…": digits like any other
    return _DIGITS.sub("[digits]", PHONE.sub("[phone]", text))[:MAX_REASON]
