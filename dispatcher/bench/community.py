"""A synthetic community of any size, generated deterministically from a seed.

Helpers are built as compact index entries directly (not pydantic models: a million
validated models would take most of a minute); `LazyHelpers` materialises a stored-form
`HelperState` only for the few helpers a decision touches.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dispatcher.core import DispatchState
from dispatcher.core.entry import HelperEntry
from schemas.helpers import HelperProfile, TimeWindow
from schemas.places import PlacePath
from schemas.records import HelperLoad, HelperState
from schemas.vocab import Gender, Role, Skill

COMMUNITY = "bench-community"
HELPERS_PER_BUILDING = 40
BUILDINGS_PER_COMPOUND = 8
COMPOUNDS_PER_GRID = 4
NIGHT = TimeWindow.model_validate({"start": "22:00", "end": "07:00"})
# Made-up phones, one per helper (one phone, one helper): a random 13x number may be a real
# person's. 138 01xx xxxx: beside the districts' 138000xxxxx (dispatcher/ops/district.py)
# and never the requester's 13800000000 (bench/match.py), who may not be offered her own.
PHONE_PREFIX = "13801"
MAX_HELPERS = 1_000_000

# (skill, share of helpers having it)
SKILL_SHARES: tuple[tuple[Skill, float], ...] = (
    (Skill.DRIVING, 0.15),
    (Skill.CARRYING, 0.10),
    (Skill.ERRANDS, 0.10),
    (Skill.FIRST_AID, 0.05),
    (Skill.ELDER_CARE, 0.05),
    (Skill.PLUMBING, 0.02),
    (Skill.ELECTRICAL, 0.02),
    (Skill.NURSE, 0.02),
    (Skill.DOCTOR, 0.01),
    (Skill.TECH_HELP, 0.03),
)


@dataclass(frozen=True, slots=True)
class Home:
    grid: tuple[str, str]
    compound: tuple[str, str]
    building: tuple[str, str, str]
    household: str


def home_of(i: int) -> Home:
    b = i // HELPERS_PER_BUILDING
    c = b // BUILDINGS_PER_COMPOUND
    g = c // COMPOUNDS_PER_GRID
    return Home(
        grid=(COMMUNITY, f"g{g}"),
        compound=(COMMUNITY, f"c{c}"),
        building=(COMMUNITY, f"c{c}", f"b{b}"),
        household=f"hh{i}",
    )


def helper_phone(i: int) -> str:
    """Helper `i`'s made-up phone."""
    if not 0 <= i < MAX_HELPERS:
        raise ValueError(f"made-up phones fit {MAX_HELPERS:,} helpers, not helper {i}")
    return f"{PHONE_PREFIX}{i:06d}"


def build_entries(n: int, seed: int) -> Iterator[HelperEntry]:
    rng = random.Random(seed)
    keys: tuple[tuple[str, str], tuple[str, str], tuple[str, str, str]] | None = None
    for i in range(n):
        if i % HELPERS_PER_BUILDING == 0:
            h = home_of(i)  # share key tuples across a building's helpers: less memory
            keys = (h.grid, h.compound, h.building)
        assert keys is not None
        skills = frozenset(s for s, share in SKILL_SHARES if rng.random() < share)
        party = rng.random() < 0.2
        roles = {Role.PARTY_MEMBER if party else Role.VOLUNTEER}
        if rng.random() < 0.0005:
            roles.add(Role.COMMUNITY_STAFF)
        paired: frozenset[str] = frozenset()
        if party and rng.random() < 0.1:  # pair with a household in the same building
            base = i - i % HELPERS_PER_BUILDING
            paired = frozenset({f"hh{base + rng.randrange(HELPERS_PER_BUILDING)}"})
        yield HelperEntry(
            helper_id=f"h{i:07d}",
            community_id=COMMUNITY,
            grid_key=keys[0],
            compound_key=keys[1],
            building_key=keys[2],
            household_id=f"hh{i}",
            skills=skills,
            roles=frozenset(roles),
            party=party,
            gender=Gender.FEMALE if rng.random() < 0.5 else Gender.MALE,
            phone=helper_phone(i),
            paired=paired,
            dnd=NIGHT if rng.random() < 0.3 else None,
            away=rng.random() < 0.05,
            busy=rng.random() < 0.05,
        )


class LazyHelpers(Mapping[str, HelperState]):
    """Stored-form helper records, made on first access from the index entries."""

    def __init__(self, state: DispatchState) -> None:
        self._state = state
        self._made: dict[str, HelperState] = {}

    def __getitem__(self, helper_id: str) -> HelperState:
        made = self._made.get(helper_id)
        if made is None:
            e = self._state.index.entries[helper_id]
            assert e.building_key is not None and e.grid_key is not None
            place = PlacePath.model_construct(
                community_id=e.community_id,
                grid_id=e.grid_key[1],
                compound_id=e.building_key[1],
                building_id=e.building_key[2],
                household_id=e.household_id,
            )
            profile = HelperProfile.model_construct(
                helper_id=helper_id,
                place=place,
                skills=tuple(sorted(e.skills)),
                roles=tuple(sorted(e.roles)),
                party_member=e.party,
                utc_offset_minutes=e.utc_offset_minutes,
            )
            made = HelperState.model_construct(
                profile=profile, away=e.away, busy=e.busy, load=HelperLoad()
            )
            self._made[helper_id] = made
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._state.index.entries)

    def __len__(self) -> int:
        return len(self._state.index.entries)


def build_state(n: int, seed: int, progress: bool = True) -> DispatchState:
    state = DispatchState()
    state.helpers = LazyHelpers(state)  # type: ignore[assignment]

    def counted() -> Iterator[HelperEntry]:
        for i, e in enumerate(build_entries(n, seed)):
            if progress and i and i % 200_000 == 0:
                print(f"  built {i:,}/{n:,} helpers", file=sys.stderr, flush=True)
            yield e

    state.index.bulk_load(counted())
    return state
