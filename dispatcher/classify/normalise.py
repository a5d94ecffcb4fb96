"""Bring a chat message to one canonical form before any rule looks at it.

Rules are written once, in simplified characters, half-width, lower case; everything
that differs only in form (full-width digits, traditional characters, pinyin glosses
pasted from news sites, zero-width joiners in emoji) is folded here.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from dispatcher.classify.hanzi import to_simplified

# Copy-pasted articles carry pinyin glosses after characters: 現(xiàn)、誰(shuí). The
# parenthesis first (the look-behind after it), so `re` skips from one to the next.
_PINYIN_GLOSS: Final = re.compile(
    r"\((?<=[\u4e00-\u9fff]\()(?=[a-zü]{0,6}[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹ])[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹ]{1,7}\)"
)
# Zero-width characters and emoji variation selectors carry no meaning for the rules.
_INVISIBLE: Final = re.compile("[\u200b-\u200f\u2060\ufe0e\ufe0f\u00ad]")
# Whitespace matters only between two Latin letters or digits ("wifi 密码" stays readable).
_SPACE: Final = re.compile(r"\s+")
# A line break inside a message ends a clause, like a comma (the safety floor reads a red flag
# with its own clause only): a run of whitespace holding one becomes ",".
_LINE_BREAK: Final = re.compile("[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
# The space first (the look-behind after it), so `re` skips from space to space.
_KEEP_SPACE: Final = re.compile(r" (?<=[a-z0-9] )(?=[a-z0-9])")
_SPACE_MARK: Final = "\x00"
# Sentence punctuation folded to one set, so clause splitting needs only ASCII marks.
# No rule needs more than a phone number's digits; long runs would only cost time.
_LONG_DIGITS: Final = re.compile(r"\d{13,}")
_KEPT_DIGITS: Final = 12
_PUNCT: Final = (("。", "."), ("、", ","), ("…", "."), ("～", "~"), ("「", '"'), ("」", '"'))
# The full-width marks of nearly every message, replaced by their NFKC forms first: the text
# is then usually NFKC already, and the quick check skips the costly full normalisation.
# (Replacing a character by its compatibility decomposition never changes the NFKC result.)
_FULL_WIDTH: Final = tuple((c, unicodedata.normalize("NFKC", c)) for c in "，！？：；（）　")


def _fold_space(run: re.Match[str]) -> str:
    return "," if _LINE_BREAK.search(run.group()) else " "


def _nfkc(text: str) -> str:
    for mark, plain in _FULL_WIDTH:
        text = text.replace(mark, plain)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def normalise(text: str) -> str:
    folded = _nfkc(text)
    folded = _LONG_DIGITS.sub(lambda m: m.group()[:_KEPT_DIGITS], folded)
    if "(" in folded:
        folded = _PINYIN_GLOSS.sub("", folded)
    folded = _INVISIBLE.sub("", folded)
    folded = to_simplified(folded).casefold()
    for mark, plain in _PUNCT:
        folded = folded.replace(mark, plain)
    if " " not in folded and folded.isprintable():
        return folded  # no whitespace of any kind (every other kind is unprintable)
    folded = _SPACE.sub(_fold_space, folded.strip())
    folded = _KEEP_SPACE.sub(_SPACE_MARK, folded).replace(" ", "")
    return folded.replace(_SPACE_MARK, " ")
