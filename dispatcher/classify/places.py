"""Where in the compound: building 号楼/栋/幢/座/#, unit 单元, floor 楼/层, room 室.

"N楼" is read as a FLOOR ("抬上四楼", "住12楼") unless a unit follows it ("12楼3单元",
the northern way of naming buildings); "N号楼" is always a building. A room number
gives the floor when none is written (502 → 5, 1201 → 12). "3-2-502" is
building-unit-room. Values are strings of Arabic digits, as residents type them.
"""

from __future__ import annotations

import re
from typing import Final

from dispatcher.classify.hanzi import CN_NUMERAL_CHARS, parse_number

_CN = CN_NUMERAL_CHARS
# A number: digits or Chinese numerals, up to six. Written to start with one character class
# (then the run of its own kind) so `re` can skip straight to where a number starts.
_N = rf"([\d{_CN}](?:(?<=\d)\d{{0,5}}|(?<=[{_CN}])[{_CN}]{{0,5}}))"
_N_ANY = rf"(?:\d{{1,6}}|[{_CN}]{{1,6}})"
# Starts with \d (the look-behind sits after the first digit) so `re` skips to digits.
_TRIPLE: Final = re.compile(r"(\d(?<![\d-]\d)\d{0,2})-(\d{1,2})-(\d{3,4})(?![\d-])")
_BUILDING: Final = re.compile(
    rf"{_N}\s{{0,3}}(?:号楼|号栋|号幢|栋|幢|座(?!位)|#楼?|楼(?={_N_ANY}单元))"
)
_BUILDING_LETTER: Final = re.compile("([a-z])(?:栋|座|幢)")
_UNIT: Final = re.compile(rf"{_N}\s{{0,3}}单元")
# Not right after 号, #, or another numeral (the look-behind sits after the first numeral).
_FLOOR: Final = re.compile(
    rf"([\d{_CN}](?<![号#\d{_CN}][\d{_CN}])(?:(?<=\d)\d{{0,5}}|(?<=[{_CN}])[{_CN}]{{0,5}}))"
    rf"\s{{0,3}}(?:楼|层)(?![{_CN}\d]{{0,6}}单元)"
)
_ROOM_AFTER: Final = re.compile(r"(?:单元|号楼|栋|幢|座|#)\s{0,3}(\d{3,4})(?!\d)")
# A room written straight after its floor number ("5楼502", "五楼503"): dropping it made two
# flats of one floor one merge key. Group 1 is the floor, group 2 the room. Used only when no
# 室/单元 form is written and the room's leading digits are that floor (`_room_after_floor`):
# "3号楼5楼 120到了吗 502室" read 120 and merged 502 with 503. Not a year, date, time, amount,
# count or phone number ("12楼2023年", "5楼100块", "5楼500ml", "5楼 2023-12-08"), nor after a
# 楼 that is no floor ("下楼100多米"; "3号楼502" is _ROOM_AFTER's).
_ROOM_AFTER_FLOOR: Final = re.compile(
    rf"(?<![号#\d{_CN}])([\d{_CN}]{{1,6}})\s{{0,3}}(?:楼|层)\s{{0,3}}(\d{{3,4}})"
    r"(?![\d年月日点时分秒元块米斤岁个天多余来人平公克升瓦度%a-zA-Z]|[.:\-/]\d)"
)
_ROOM_BEFORE: Final = re.compile(r"(\d(?<!\d\d)\d{2,3})\s{0,3}(?:室|房|号房)")


_BUILDING_WORDS: Final = ("栋", "幢", "座", "#", "楼")  # _BUILDING and _BUILDING_LETTER
_ROOM_AFTER_WORDS: Final = ("单元", "号楼", "栋", "幢", "座", "#")
_ROOM_AFTER_FLOOR_WORDS: Final = ("楼", "层")


def _words(text: str) -> list[str]:
    return text.split()


_SPOTS: Final = _words(
    "地下车库 地下停车场 停车场 车库 小区门口 大门口 南门 北门 东门 西门 门口 电梯口 电梯 楼道 "
    "楼梯 楼下 天台 中心花园 花园 广场 游泳池 健身器材 篮球场 菜市场 超市 活动中心 卫生间 厨房 阳台"
)
_SPOT: Final = re.compile("|".join(sorted(_SPOTS, key=len, reverse=True)))


def _num(token: str) -> str | None:
    value = parse_number(token)
    return None if value is None or value <= 0 or value > 999 else str(value)


def _room_after_floor(text: str) -> re.Match[str] | None:
    """The first "N楼/层" + number whose leading digits are N ("5楼502", "12层1201"): a
    number that does not start with its floor is a time, a count or a phone number ("5楼1230前",
    "5楼 120到了吗"), or the northern "3楼502" (building 3), never this floor's room."""
    if not any(word in text for word in _ROOM_AFTER_FLOOR_WORDS):
        return None
    for match in _ROOM_AFTER_FLOOR.finditer(text):
        floor = _num(match.group(1))
        if floor is not None and int(match.group(2)) // 100 == int(floor):
            return match
    return None


def place_hints(text: str) -> dict[str, str]:
    hints: dict[str, str] = {}
    taken: list[tuple[int, int]] = []

    def free(span: tuple[int, int]) -> bool:
        return all(span[1] <= s or span[0] >= e for s, e in taken)

    if "-" in text and (triple := _TRIPLE.search(text)):
        hints.update(building=triple.group(1), unit=triple.group(2), room=triple.group(3))
        taken.append(triple.span())
    # Each pattern ends in one of a few words: a substring test skips a scan for numbers
    # (numerals such as 一 are everywhere in a long message).
    buildings = []
    if any(word in text for word in _BUILDING_WORDS):
        buildings += [(m.span(), _num(m.group(1))) for m in _BUILDING.finditer(text)]
        buildings += [(m.span(), m.group(1)) for m in _BUILDING_LETTER.finditer(text)]
    for span, value in sorted(buildings, key=lambda found: found[0]):
        if value and "building" not in hints and free(span):
            hints["building"] = value.upper()
            taken.append(span)
    for match in _UNIT.finditer(text) if "单元" in text else ():
        value = _num(match.group(1))
        if value and "unit" not in hints:
            hints["unit"] = value
            taken.append(match.span())
    # An explicit room (after 单元/号楼/栋…, before 室/房) wins over a number after a floor.
    rooms = [
        m
        for regex, words in ((_ROOM_AFTER, _ROOM_AFTER_WORDS), (_ROOM_BEFORE, ("室", "房")))
        if any(word in text for word in words) and (m := regex.search(text))
    ]
    if "room" not in hints and rooms:
        room = min(rooms, key=lambda m: m.start())
        hints["room"] = room.group(1)
        taken.append(room.span())
    elif "room" not in hints and (after_floor := _room_after_floor(text)):
        hints["room"] = after_floor.group(2)
        # Only the digits: the floor word before them still names the floor ("5楼502").
        taken.append(after_floor.span(2))
    for match in _FLOOR.finditer(text) if "楼" in text or "层" in text else ():
        value = _num(match.group(1))
        if value and "floor" not in hints and free(match.span()):
            hints["floor"] = value
    if "floor" not in hints and "room" in hints and int(hints["room"]) >= 100:
        hints["floor"] = str(int(hints["room"]) // 100)
    if spot := _SPOT.search(text):
        hints["spot"] = spot.group()
    return hints
