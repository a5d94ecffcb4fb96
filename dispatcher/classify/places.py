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

_N = rf"(\d{{1,6}}|[{CN_NUMERAL_CHARS}]{{1,6}})"
_N_ANY = rf"(?:\d{{1,6}}|[{CN_NUMERAL_CHARS}]{{1,6}})"
_TRIPLE: Final = re.compile(r"(?<![\d-])(\d{1,3})-(\d{1,2})-(\d{3,4})(?![\d-])")
_BUILDING: Final = re.compile(
    rf"{_N}\s{{0,3}}(?:号楼|号栋|号幢|栋|幢|座(?!位)|#楼?|楼(?={_N_ANY}单元))|(?P<letter>[a-z])(?:栋|座|幢)"
)
_UNIT: Final = re.compile(rf"{_N}\s{{0,3}}单元")
_FLOOR: Final = re.compile(
    rf"(?<![号#\d{CN_NUMERAL_CHARS}]){_N}\s{{0,3}}(?:楼|层)(?![{CN_NUMERAL_CHARS}\d]{{0,6}}单元)"
)
_ROOM: Final = re.compile(
    r"(?:单元|号楼|栋|幢|座|#)\s{0,3}(\d{3,4})(?!\d)|(?<!\d)(\d{3,4})\s{0,3}(?:室|房|号房)"
)


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


def place_hints(text: str) -> dict[str, str]:
    hints: dict[str, str] = {}
    taken: list[tuple[int, int]] = []

    def free(span: tuple[int, int]) -> bool:
        return all(span[1] <= s or span[0] >= e for s, e in taken)

    if triple := _TRIPLE.search(text):
        hints.update(building=triple.group(1), unit=triple.group(2), room=triple.group(3))
        taken.append(triple.span())
    for match in _BUILDING.finditer(text):
        value = match.group("letter") or _num(match.group(1) or "")
        if value and "building" not in hints and free(match.span()):
            hints["building"] = value.upper()
            taken.append(match.span())
    for match in _UNIT.finditer(text):
        value = _num(match.group(1))
        if value and "unit" not in hints:
            hints["unit"] = value
            taken.append(match.span())
    if "room" not in hints and (room := _ROOM.search(text)):
        hints["room"] = room.group(1) or room.group(2)
        taken.append(room.span())
    for match in _FLOOR.finditer(text):
        value = _num(match.group(1))
        if value and "floor" not in hints and free(match.span()):
            hints["floor"] = value
    if "floor" not in hints and "room" in hints and int(hints["room"]) >= 100:
        hints["floor"] = str(int(hints["room"]) // 100)
    if spot := _SPOT.search(text):
        hints["spot"] = spot.group()
    return hints
