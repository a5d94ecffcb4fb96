"""A helper compiled for matching: the facts the index and ranking read, in one slotted
object, so a candidate check is a few attribute reads rather than pydantic access."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from dispatcher.core.presence import until_by_rank
from schemas.helpers import HelperProfile, TimeWindow, WeeklyWindow
from schemas.records import HelperLoad, HelperState
from schemas.vocab import Gender, Role, Skill

LoadRank = tuple[date | None, int, int, float]


def rank_of_load(load: HelperLoad) -> LoadRank:
    last = load.last_offered_at.timestamp() if load.last_offered_at is not None else 0.0
    today = load.offers_today + load.assignments_today
    return (load.day, today, -round(load.responsiveness() * 10), last)


_DEFAULT_LOAD = HelperLoad()
_DEFAULT_LOAD_RANK = rank_of_load(_DEFAULT_LOAD)


def normalise_phone(phone: str | None) -> str | None:
    """ASCII digits only, without a leading +86, so "+86 138-0000-0000" matches
    "13800000000". Every digit is read as its ASCII one: "13８０００００００" (a Chinese IME in
    full-width mode) is "13800000000" too, never a phone of its own with another digest. A
    phone written in ASCII digits normalises as it always did."""
    if not phone:
        return None
    digits = "".join(_ascii_digit(ch) for ch in phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits or None


def _ascii_digit(ch: str) -> str:
    """A character's ASCII digit ("８" is "8", "٣" is "3"), or "" when it is no digit.
    Every character `str.isdigit` takes has a digit value."""
    if "0" <= ch <= "9":
        return ch
    return str(unicodedata.digit(ch)) if ch.isdigit() else ""


def phone_tag(phone: str | None) -> int:
    """0-255 from the phone's hash (-1 without a phone): equal phones, equal tags."""
    return -1 if phone is None else hash(phone) & 0xFF


@dataclass(slots=True, eq=False)
class HelperEntry:
    helper_id: str
    community_id: str
    grid_key: tuple[str, str] | None
    compound_key: tuple[str, str] | None
    building_key: tuple[str, str, str] | None
    household_id: str | None
    skills: frozenset[Skill]
    roles: frozenset[Role]
    party: bool
    gender: Gender | None = None
    phone: str | None = None  # the keyed digest (`phone_key`), or digits if never sealed
    paired: frozenset[str] = frozenset()
    availability: tuple[WeeklyWindow, ...] = ()
    dnd: TimeWindow | None = None
    utc_offset_minutes: int = 480
    active: bool = True
    first_responder: bool = False  # 党员楼长: offered first in their building
    teams: frozenset[str] = frozenset()  # member of
    leads: tuple[str, ...] = ()  # leader of (sorted)
    # Dynamic facts, refreshed by `apply` whenever the helper's stored state changes.
    away: bool = False
    busy: bool = False
    dnd_override_until: datetime | None = None
    load: HelperLoad = _DEFAULT_LOAD
    # Holding an in-person assignment elsewhere (`core/presence.py`): per urgency rank of
    # the request searched for, until when a search for its in-person need passes them
    # over (`now` before it); None without any hold.
    presence_until: tuple[datetime, ...] | None = None
    # The ranking's load terms, worked out when the load changes rather than each time a
    # search reads the helper: (day, offers + assignments that day, -responsiveness in
    # tenths, last offered as a timestamp). See `eligibility.rank_key`.
    load_rank: LoadRank = field(init=False, default=_DEFAULT_LOAD_RANK)
    # `phone_tag(phone)`: a search compares it, a small int (one object shared by every
    # helper) that is in the CPU caches already, before it reads each helper's phone
    # string from memory; `phone` is set when the entry is made and never changed after.
    phone_tag: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        if self.load is not _DEFAULT_LOAD:
            self.load_rank = rank_of_load(self.load)
        self.phone_tag = phone_tag(self.phone)

    @classmethod
    def from_profile(cls, profile: HelperProfile) -> HelperEntry:
        place = profile.place
        return cls(
            helper_id=profile.helper_id,
            community_id=place.community_id,
            grid_key=place.grid_key(),
            compound_key=place.compound_key(),
            building_key=place.building_key(),
            household_id=place.household_id,
            skills=frozenset(profile.skills),
            roles=frozenset(profile.roles),
            party=profile.is_party_member,
            gender=profile.gender,
            phone=profile.phone_key or normalise_phone(profile.phone),  # as the requester's
            paired=frozenset(profile.paired_household_ids),
            availability=profile.availability,
            dnd=profile.do_not_disturb,
            utc_offset_minutes=profile.utc_offset_minutes,
            active=profile.active,
            first_responder=profile.first_responder,
            teams=frozenset(profile.teams) | frozenset(profile.leads_teams),
            leads=tuple(sorted(set(profile.leads_teams))),
        )

    @classmethod
    def from_state(cls, state: HelperState) -> HelperEntry:
        entry = cls.from_profile(state.profile)
        if state.household_pairs:  # the household ledger's 结对 too
            entry.paired = frozenset(state.paired_household_ids)
        entry.refresh(state)
        return entry

    def refresh(self, state: HelperState) -> None:
        self.away = state.away
        self.busy = state.busy
        self.dnd_override_until = state.dnd_override_until
        self.presence_until = until_by_rank(state) if state.presence else None
        if state.load is not self.load:
            self.load = state.load
            self.load_rank = rank_of_load(state.load)
        self.active = state.profile.active

    def same_static_facts(self, other: HelperEntry) -> bool:
        """Whether the index buckets for `other` equal ours (no re-indexing needed)."""
        return (
            self.community_id == other.community_id
            and self.grid_key == other.grid_key
            and self.compound_key == other.compound_key
            and self.building_key == other.building_key
            and self.skills == other.skills
            and self.roles == other.roles
            and self.paired == other.paired
            and self.first_responder == other.first_responder
            and self.teams == other.teams
            and self.leads == other.leads
        )
