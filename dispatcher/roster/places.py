"""Ledger place cells → the ids helpers are registered with: compounds, buildings, households.

Ids must agree with what the bots derive from a chat message (`dispatcher.groupchat.bots.
building_id_for`): a building with a number is "b" + the number ("3号楼", "3栋", "3幢",
"三号楼", "3" → "b3"), a lettered one "b" + the letter ("A座", "a栋" → "bA"). Any other name
("综合楼", "北区5号楼") gets a stable id from its text; a group that should resolve it lists it
in its `buildings` map. Display names stay as the ledger wrote them, but only the building:
a cell that goes on to the unit, floor or room ("3号楼2单元502室", "3-2-502", "A座1502") is
named by its building ("3号楼"), a name shown in every push, page and group text; its id
stays the one the whole cell always had (households' ids, and so their printed cards and
pairings, are built on it: a re-import must not retire them). A cell with a phone in it
names no building (`flat_in` says what is wrong).
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from dataclasses import dataclass

from dispatcher.classify.hanzi import CN_NUMERAL_CHARS, parse_number
from dispatcher.redact import DIGIT, PHONE, PLACE_NUMBER, fold_digits

_NS = uuid.UUID("5b2e8f0c-4a1d-4c3e-9f6a-7d8e1b2c3a40")
_SUFFIX = r"(?:号楼|号栋|号幢|#楼|号|栋|幢|座|楼|#)"
_NUMBERED = re.compile(rf"^(\d{{1,4}}|[{CN_NUMERAL_CHARS}]{{1,4}})\s*{_SUFFIX}?$")
_LETTERED = re.compile(rf"^([A-Za-z])\s*{_SUFFIX}?$")
_ROOM = re.compile(r"^(\d{3,5})\s*(?:室|号|房)?$")
_TRIPLE = re.compile(r"^(\d{1,4})\s*[-－—]\s*(\d{1,2})\s*[-－—]\s*(\d{3,5})$")
_SPELLED = re.compile(
    rf"^(?P<b>\d{{1,4}}|[A-Za-z])\s*{_SUFFIX}\s*(?:(?P<u>\d{{1,2}})\s*单元)?\s*(?P<r>\d{{3,5}})"
    r"\s*(?:室|号|房)?$"
)
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_NAME = 32
MAX_CELL = 64  # a 楼栋 cell read for its building part (what a display name may hold)
# A building written with what is inside it: the building ends at its word (号楼, 栋, 座 …)
# and a unit ("2单元", "2-"), a floor ("5层") or a room ("502室", "1502") follows:
# "3号楼2单元502室", "3栋5层", "A座1502", "3#2-502", "北区5号楼-2-502", "三号楼二单元五零二".
_PLACE_DIGIT = rf"(?:{DIGIT}|[十百])"
_WITH_FLAT = re.compile(
    rf"^(?P<building>.+?(?:号楼|號樓|号栋|号幢|#楼|号|號|栋|棟|幢|座|楼|樓|#|＃))[-－—]?"
    rf"(?:{_PLACE_DIGIT}{{1,3}}(?:单元|單元|[-－—])"
    rf"|{_PLACE_DIGIT}{{1,3}}(?:层|層|楼|樓)"
    rf"|{_PLACE_DIGIT}{{2,5}}(?:室|号|號|房|户|戶)?(?!{_PLACE_DIGIT}))"
)
# What only a flat has: a unit, floor or room word after a number (redact's place numbers).
_FLAT_WORDS = ("单元", "單元", "层", "層", "室", "户", "戶", "房")


def _short(kind: str, *parts: str) -> str:
    return uuid.uuid5(_NS, kind + "\n" + "\n".join(parts)).hex[:10]


def compound_id_for(community_id: str, name: str) -> str:
    """A stable id for a compound known only by name ("图强小区" → "c-1a2b…")."""
    return "c-" + _short("compound", community_id, re.sub(r"\s+", "", name))


@dataclass(frozen=True)
class Building:
    building_id: str
    name: str
    trimmed: bool = False  # the cell went on to a unit, floor or room: left out of `name`


def _flat_words(text: str) -> bool:
    """A unit, floor or room number in `text` ("502室", "2单元", "5层", "3-2-502")."""
    return any(
        "-" in m.group() or "－" in m.group() or text[m.end() :].lstrip().startswith(_FLAT_WORDS)
        for m in PLACE_NUMBER.finditer(text)
    )


@functools.lru_cache(maxsize=4096)  # the intake's hot path: a bot sends the same few names
def flat_in(text: str) -> str | None:
    """Why a place's display name (a building or compound name, shown to every helper and
    group) cannot be one: "phone" when it holds a phone number (any digit form), "flat" when
    it names a unit, floor or room ("3号楼2单元502室", "A座1502", "3-2-502"); None when it
    does not."""
    t = re.sub(r"\s+", "", text)
    if PHONE.search(fold_digits(t)):
        return "phone"
    if _WITH_FLAT.match(t) or _TRIPLE.search(t) or _flat_words(t):
        return "flat"
    return None


def place_name_error(text: str | None) -> str | None:
    """The error a place's display name is refused with where it is written (the bot API,
    staff invites, the config API): "place_name_has_phone" / "place_name_has_flat"
    (`flat_in`), None for a name only (or none)."""
    why = flat_in(text) if text else None
    return f"place_name_has_{why}" if why else None


def building(text: str) -> Building | None:
    """The building a ledger cell names, or None when the cell is empty or too long, holds
    a phone, or names a flat with no building before it ("502室"). A cell that goes on to
    the unit, floor or room is named by its building only ("3号楼2单元502室": "3号楼"),
    with the id it always had."""
    t = re.sub(r"\s+", "", text)
    if not t or len(t) > MAX_CELL or PHONE.search(fold_digits(t)):
        return None
    whole = t
    if m := _TRIPLE.match(t):
        t = m[1]
    elif m := _WITH_FLAT.match(t):
        t = m["building"]
    if len(t) > MAX_NAME or _flat_words(t):
        return None
    found = _named(t)
    if found is None or t == whole:
        return found
    return Building("b-" + _short("building", whole), found.name, trimmed=True)


def _named(t: str) -> Building | None:
    if m := _NUMBERED.match(t):
        number = parse_number(m.group(1))
        if number is None or number <= 0:
            return None
        bare = t == m.group(1) or (t.endswith("号") and not t.endswith("号楼"))
        return Building(f"b{number}", f"{number}号楼" if bare else t)
    if m := _LETTERED.match(t):
        letter = m.group(1).upper()
        return Building(f"b{letter}", t if t != m.group(1) else f"{letter}座")
    return Building("b-" + _short("building", t), t)


def household_id(
    text: str, compound_id: str, building_id: str | None, unit: str | None
) -> str | None:
    """A household cell → its id, unique per compound (every id starts "hh-<compound>-").
    "3-2-502" and "3号楼2单元502" name the building; a bare room ("502", "502室") is in
    the row's own building and unit; an id written as one ("hh-wang", "A101") is put in
    the compound ("hh-c1-A101": two compounds' "A101" are two households), unless it is
    already in it ("hh-c1-…", as an import report prints it). None when unreadable."""
    t = re.sub(r"\s+", "", text)
    if not t:
        return None
    u: str | None  # the unit, when the cell or the row names one
    if m := _TRIPLE.match(t):
        b, u, room = f"b{int(m[1])}", str(int(m[2])), m[3]
    elif m := _SPELLED.match(t):
        raw = m["b"]
        b = f"b{int(raw)}" if raw.isdigit() else f"b{raw.upper()}"
        u, room = (str(int(m["u"])) if m["u"] else None), m["r"]
    elif (m := _ROOM.match(t)) and building_id is not None:
        b, u, room = building_id, unit, m[1]
    elif _PLAIN_ID.match(t) and not t.isdigit():
        own = f"hh-{compound_id}-"
        return t if t.startswith(own) else _qualified(own + t)
    else:
        return None
    hid = f"hh-{compound_id}-{b}-{u or '0'}-{room}"
    return hid if len(hid) <= 64 else "hh-" + _short("household", hid)


def _qualified(hid: str) -> str:
    """At most 64 characters, as a room's id; a longer one becomes a digest PostgreSQL
    computes too (its `sha256`; it has no uuid5): migration 0391 moves the ids stored
    before into their compound with it."""
    if len(hid) <= 64:
        return hid
    return "hh-" + hashlib.sha256(f"household\n{hid}".encode()).hexdigest()[:10]
