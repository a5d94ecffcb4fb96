"""Public place labels: what a group may see of where help is needed.

Offers and whistles go to many people, so they name at most the compound and building:
"阳光花园 3号楼". The compound is named whenever it is known, in a one-compound community
too: a community usually holds several compounds, each with its own 3号楼, and the texts
and pages see only the request's label, not how many compounds the community has (nor
would a text be told the same way once a compound is added).
Inputs are whitelisted, not blacklisted: from a building string only a "N号楼 / N栋 /
N幢 / N座" token survives; anything else with digits or unit/household words is dropped.
A compound part is dropped when it holds a flat or phone (`flat_in`, as where names are
written) or a run of three digits (a room); of the rest, only name tokens survive
(`_fragment`: no "3楼", "7号", "5-2" next to the name, no machine-made id "c1", "c-1a2b…").
A name is shown whatever its script ("tuqiang", "sunshine garden"): labels carry names only
(`PlacePath.building_label`); only labels stored before session 41 carry an id where the
compound had no name, and of those only the machine-made forms are known as ids.
A stored name holding a flat or phone (saved before such names were refused) is cut on read
as on write (`dispatcher.roster.places.building`: "综合楼五楼" -> "综合楼", else dropped).
A digit is any of `dispatcher.redact`'s: Arabic, Chinese, financial (壹贰叁…), and the
forms `fold_digits` reads as digits (①, 𝟏, keycaps, other scripts' digits).
The offer's pages (offer_pages.py, answer_pages.py) show `place_label(None, label)` of
the request's stored label, as its push does: every helper offered sees those pages.
"""

from __future__ import annotations

import re
import unicodedata

from dispatcher.redact import DIGIT, PHONE, fold_digits
from dispatcher.roster.places import building as roster_building
from dispatcher.roster.places import flat_in

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

# In a compound's name: three digits in a row are a room ("阳光花园502"), not a name.
_ROOM_DIGITS = re.compile(f"{DIGIT}{{3,}}")
# The machine-made id forms ("c1", "b3", `compound_id_for`'s "c-1a2b3c4d5e"), which labels
# stored before session 41 carry where the compound had no name. Any other lowercase word is
# a name ("tuqiang"): before, every [a-z0-9_.:-] word was taken for an id and not shown.
_MACHINE_ID = re.compile(r"[a-z]{1,2}[0-9]{1,4}|[a-z]-[0-9a-f]{10}")

# A compound's name is whitelisted token by token (whitespace-separated): a token with a
# digit (any form, 十/百 too) is a name's ("万科城2期", "莲花五村") only with no floor, door,
# unit or building word and no separator in it, and with a Han character besides the digits.
# So "3楼", "三楼", "7号", "5-2", "5#", "52", "B2" go: each can point at a flat, and offers go
# to many. A token of place words only ("楼" of "3 楼") goes too. A name that uses one of
# these words with a numeral ("一号院") loses that token: the building still shows.
_PLACE_DIGIT = re.compile(f"{DIGIT}|[十百]")
_PLACE_MARK = re.compile(
    r"楼|樓|层|層|号|號|单元|單元|室|房|户|戶|栋|棟|幢|座|弄|门|門|[#＃\-－—‐/／.．·]"
)
_PLACE_MARKS_ONLY = re.compile(f"(?:{_PLACE_MARK.pattern})+")
_HAN = re.compile(r"[\u3400-\u9fff]")

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
    if flat_in(text):  # stored before such names were refused: cut as on write
        found = roster_building(text)
        cut = _normalise(found.name) if found is not None else ""
        # Kept only as an "N号楼" or a name without numerals: "二楼502" cut to "二楼" is a floor.
        if not cut or not (_BUILDING.search(cut) or not _PLACE_DIGIT.search(cut)):
            return ""
        text = cut
    match = _BUILDING.search(text)
    if match:
        return match.group(0).replace(" ", "")
    if _NUMBER_IN_NAME.search(text) or _private(text):  # "叁号楼伍零贰": no N号楼 token
        return ""
    return text  # a named building without numbers, e.g. "综合楼"


def compound_label(compound: str | None) -> str:
    """A compound's name, unless it looks like it carries more than a name (or is a
    machine-made id)."""
    if not compound:
        return ""
    text = _normalise(compound)
    bare = text.replace(" ", "")
    if _private(text) or flat_in(bare) or _ROOM_DIGITS.search(bare):
        return ""
    building = _BUILDING.search(text)
    if building:  # a building number in the compound field: keep what precedes it
        text = text[: building.start()].strip()
    return " ".join(token for token in text.split() if not _fragment(token))


def _fragment(token: str) -> bool:
    """A token of a compound's name that is a floor, door or unit fragment, not a name."""
    if _PLACE_MARKS_ONLY.fullmatch(token) or _MACHINE_ID.fullmatch(token):
        return True
    if not _PLACE_DIGIT.search(token):
        return False
    return bool(_PLACE_MARK.search(token)) or not _HAN.search(_PLACE_DIGIT.sub("", token))


def _split(label: str) -> tuple[str, str]:
    """A request's stored label (`PlacePath.building_label()`: "<compound> <building>" by
    name; before session 41 an id where a name was missing) as its compound part and its
    building part."""
    text = _normalise(label)
    head, _, rest = text.partition(" ")
    if rest and _MACHINE_ID.fullmatch(head):  # "c1 综合楼" (stored before session 41)
        text = rest
    # The building is the label's last part: a building word in the compound's name
    # ("阳光花园1号楼…") is not the request's building.
    buildings = list(_BUILDING.finditer(text))
    if buildings:
        start = buildings[-1].start()
        return text[:start], text[start:]
    if flat_in(text):  # a stored name with a flat ("图强小区 综合楼 五楼"): the building part
        # is the shortest tail holding it, cut by `building_label` as on write
        tokens = text.split()
        for k in range(len(tokens) - 1, -1, -1):
            if flat_in(" ".join(tokens[k:])):
                return " ".join(tokens[:k]), " ".join(tokens[k:])
    if building_label(text):  # a named building ("图强小区 综合楼"): shown whole, as before
        return "", text
    compound, _, _ = text.rpartition(" ")  # "图强小区 b3" (stored before session 41): an id
    return compound, ""


def place_label(compound: str | None, building: str | None) -> str:
    """ "<compound> <building>" as a group may see it. Without `compound`, `building` is
    the request's stored label, which carries the compound first."""
    if compound is None and building:
        compound, building = _split(building)
    parts = (compound_label(compound), building_label(building))
    return " ".join(p for p in parts if p) or "本小区"
