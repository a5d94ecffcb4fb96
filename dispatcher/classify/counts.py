"""How many helpers a message asks for: 三四个人, 两个小伙子, 3个人, 一位会说闽南话的邻居.

Rule: a range ("三四个人", "3-4个人") yields its LOWER bound as `helpers_needed` and the
upper bound as `helpers_max`. Dispatch fills the first slots quickly and keeps offering
until the upper bound, so the lower bound is the number that must be found, the upper
one the number worth inviting. A count only counts next to a need ("需要/找/来 …" before
it, or "帮忙/来/过来 …" after it): "我一个人在家" and "两个老人" are not helpers.
"""

from __future__ import annotations

import re
from typing import Final

from dispatcher.classify.hanzi import parse_number

_CN = "一二两三四五六七八九十"
_NUMBER = rf"(?P<n>\d{{1,6}}(?:[-~到至]\d{{1,6}})?|[{_CN}]{{1,2}}几?|几)"
_PERSON = (
    r"(?:个)?(?:人|邻居|男士|男生|壮汉|小伙子|小伙|师傅|志愿者|帮手|年轻人|大哥|兄弟|劳力|壮劳力)"
)
_NEED_BEFORE = re.compile(
    rf"(?:需要|需|要|找|来|请|缺|差|求|喊|叫|再|得){_NUMBER}(?:(?:位|名)|{_PERSON})"
)
# _NUMBER not right after 我/你/他/她 or a numeral, written to start with one character class
# (the look-behind sits after the first character) so `re` can skip to where one starts.
_NUMBER_ALONE = (
    rf"(?P<n>[\d{_CN}几](?<![我你他她{_CN}\d][\d{_CN}几])"
    rf"(?:(?<=\d)\d{{0,5}}(?:[-~到至]\d{{1,6}})?|(?<=[{_CN}])[{_CN}]?几?|(?<=几)))"
)
_NEED_AFTER = re.compile(
    rf"{_NUMBER_ALONE}(?:位|名|个)?{_PERSON}?(?:来)?(?:帮忙|帮|过来|一起|搭把手|抬|搬|扛)"
)
_CLASSIFIER_ONLY = re.compile(
    rf"(?P<n>[{_CN}\d](?<![{_CN}\d][{_CN}\d])(?:(?<=[{_CN}])[{_CN}]?|(?<=\d)\d{{0,5}}))(?:位|名)"
)

# "个" with no numeral after a need verb is "one": 来个人, 找个人, 求个好心人, 求个力气大的.
_ONE_BEFORE = re.compile(rf"(?:求|找|来|请|喊|叫)(?P<n>个)(?:{_PERSON}|好心人|力气|会|懂|有空|能)")

MAX_HELPERS: Final = 20  # a typo like "100个人" must not page the whole community
_VAGUE: Final = (2, 4)  # 几个人: a few


def _bounds(token: str) -> tuple[int, int] | None:
    token = token.replace("~", "-").replace("到", "-").replace("至", "-")
    if "-" in token:
        low, high = (parse_number(part) for part in token.split("-", 1))
        if low is None or high is None:
            return None
        return (min(low, high), max(low, high))
    if token == "几":
        return _VAGUE
    if token == "个":
        return (1, 1)
    if token.endswith("几"):  # 十几 → ten or more
        base = parse_number(token[:-1])
        return None if base is None else (base, base + 9)
    if len(token) == 2 and not token.isdigit() and "十" not in token:
        # Adjacent numerals are a range: 两三 → 2..3, 三四 → 3..4, 三五 → 3..5.
        low, high = parse_number(token[0]), parse_number(token[1])
        if low is not None and high is not None and low < high:
            return (low, high)
    value = parse_number(token)
    return None if value is None else (value, value)


# Words without one of which a pattern cannot match: a substring test is far cheaper than
# a scan for a number (numerals such as 一 are everywhere in a long message).
_NEEDS: Final = (
    (_NEED_BEFORE, ()),
    (_NEED_AFTER, ("帮", "过来", "一起", "搭把手", "抬", "搬", "扛")),
    (_CLASSIFIER_ONLY, ("位", "名")),
    (_ONE_BEFORE, ("个",)),
)


def helpers_wanted(text: str) -> tuple[int, int, str] | None:
    """(lower, upper, matched text) for the first count tied to a need, if any."""
    for regex, needs in _NEEDS:
        if needs and not any(word in text for word in needs):
            continue
        for match in regex.finditer(text):
            if regex is _CLASSIFIER_ONLY and not re.search(r"需|要|找|求|请", text):
                break
            bounds = _bounds(match.group("n"))
            if bounds is None or bounds[1] < 1:
                continue
            low = max(1, min(bounds[0], MAX_HELPERS))
            high = max(low, min(bounds[1], MAX_HELPERS))
            return (low, high, match.group())
    return None
