"""Public place labels: what a group may see of where help is needed.

Offers and whistles go to many people, so they name at most the compound and building.
Inputs are whitelisted, not blacklisted: from a building string only a "N号楼 / N栋 /
N幢 / N座" token survives; anything else with digits or unit/household words is dropped.
A digit is any of `dispatcher.redact`'s: Arabic, Chinese, financial (壹贰叁…), and the
forms `fold_digits` reads as digits (①, 𝟏, keycaps, other scripts' digits).
The offer's pages (offer_pages.py, answer_pages.py) show `place_label(None, label)` of
the request's stored label, as its push does: every helper offered sees those pages.
"""

from __future__ import annotations

import re
import unicodedata

from dispatcher.redact import DIGIT, PHONE, fold_digits

_BUILDING = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(?:[0-9]{1,3}|[A-Za-z]{1,2}[0-9]{0,2}|[一二三四五六七八九十百零〇两]{1,4})"
    r"\s*(?:号楼|栋|幢|座)"
)
# Finer than a building, or contact details: never in a public label.
_PRIVATE_WORDS = re.compile(r"单元|室|户|层|楼道|门牌|号房|电话|手机|微信|[Tt]el")
# What makes a name without an "N号楼" token a number (after `fold_digits`): any Arabic or
# financial digit, or a run of three Chinese ones ("五零二"). One or two Chinese numerals
# are a name's ("第二教学楼", "八一大楼", "一期综合楼"), kept as before session 39.
_NUMBER_IN_NAME = re.compile(r"[0-9壹贰叁肆伍陆柒捌玖]|[零〇一二三四五六七八九两幺]{3,}")
# Four or more digits in a row, Arabic or Chinese ("幺三八…", "壹叁捌…"): a number, not a name.
_LONG_DIGITS = re.compile(f"{DIGIT}{{4,}}")

MAX_LABEL_CHARS = 20


def _normalise(text: str) -> str:
    # Every digit form as a plain digit (①③⑧, 𝟏𝟑𝟖, ١٣٨…); NFKC folds full-width letters.
    return " ".join(unicodedata.normalize("NFKC", fold_digits(text)).split())


def _private(text: str) -> bool:
    """A long number, a phone however split, a unit/household word, or too long a text."""
    return bool(
        _LONG_DIGITS.search(text)
        or PHONE.search(text)
        or _PRIVATE_WORDS.search(text)
        or len(text) > MAX_LABEL_CHARS
    )


def building_label(building: str | None) -> str:
    """E.g. "3号楼2单元501室" -> "3号楼"; unrecognisable input -> ""."""
    if not building:
        return ""
    text = _normalise(building)
    match = _BUILDING.search(text)
    if match:
        return match.group(0).replace(" ", "")
    if _NUMBER_IN_NAME.search(text) or _private(text):  # "叁号楼伍零贰": no N号楼 token
        return ""
    return text  # a named building without numbers, e.g. "综合楼"


def compound_label(compound: str | None) -> str:
    """A compound's name, unless it looks like it carries more than a name."""
    if not compound:
        return ""
    text = _normalise(compound)
    if _private(text):
        return ""
    building = _BUILDING.search(text)
    if building:  # a building number in the compound field: keep what precedes it
        text = text[: building.start()].strip()
    return text


def place_label(compound: str | None, building: str | None) -> str:
    label = compound_label(compound) + building_label(building)
    return label or "本小区"
