"""The one synthetic district generator: communities (社区) → grids (网格) → compounds (小区)
→ buildings (楼栋), and helpers' bodies as PUT /v1/admin/helpers/{id} takes them, all
deterministic from a seed. Presets say how big, how named and how the helpers are drawn:
`DEMO` (the demo district `make run` loads, ops/demo_district.py), `BENCH` (the city of
`bench e2e`, bench/e2e_city.py); `place()` is the one place body, also for tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

CHANNEL = "webhook:default"


def place(
    community_id: str,
    grid_id: str,
    compound_id: str,
    building_id: str,
    compound_name: str,
    building_number: int | str,
    **extra: Any,
) -> dict[str, Any]:
    """A place body in the HTTP API's shape (`PlacePath` plus display names)."""
    return {
        "community_id": community_id,
        "grid_id": grid_id,
        "compound_id": compound_id,
        "building_id": building_id,
        "compound_name": compound_name,
        "building_name": f"{building_number}号楼",
        **extra,
    }


@dataclass(frozen=True)
class Building:
    community_id: str
    grid_id: str
    compound_id: str
    compound_name: str
    building_id: str
    number: int

    def place(self, **extra: Any) -> dict[str, Any]:
        return place(
            self.community_id,
            self.grid_id,
            self.compound_id,
            self.building_id,
            self.compound_name,
            self.number,
            **extra,
        )


@dataclass(frozen=True)
class Layout:
    """How a community is laid out and named."""

    grids: int
    compounds_per_grid: int
    buildings_per_compound: int
    compound_names: tuple[str, ...]
    # Prefixed to compound names, one per community in turn (none: the bare names).
    community_names: tuple[str, ...] = ()
    # "serial": c1, c2, … across the community; "grid": c{grid}{n} (c11, c12, c21, …).
    compound_ids: str = "serial"
    # Each community starts its compound names this many names further along.
    name_shift_per_community: int = 0

    def buildings(self, community_id: str, index: int) -> list[Building]:
        """The community's buildings; `index` is its position in the district."""
        out = []
        for g in range(self.grids):
            for k in range(self.compounds_per_grid):
                serial = g * self.compounds_per_grid + k
                shift = index * self.name_shift_per_community
                name = self.compound_names[(shift + serial) % len(self.compound_names)]
                if self.community_names:
                    name = self.community_names[index % len(self.community_names)] + name
                cid = f"c{g + 1}{k + 1}" if self.compound_ids == "grid" else f"c{serial + 1}"
                for b in range(1, self.buildings_per_compound + 1):
                    out.append(Building(community_id, f"g{g + 1}", cid, name, f"b{b}", b))
        return out


def helper_body(
    rng: random.Random,
    helper_id: str,
    number: str,
    home: dict[str, Any],
    skills: list[str],
    roles: list[str],
    *,
    party: bool,
    surnames: str,
    with_phone: bool = False,
) -> dict[str, Any]:
    """A helper's body. Draws, in this order: a surname (师傅 for drivers, else 邻居), a
    gender. with_phone: a made-up phone numbered by `number` (`fake_phone`)."""
    body: dict[str, Any] = {
        "helper_id": helper_id,
        "name": f"{rng.choice(surnames)}{'师傅' if 'driving' in skills else '邻居'}{number}",
    }
    if with_phone:
        body["phone"] = fake_phone(number)
    body.update(
        {
            "place": home,
            "roles": roles,
            "skills": skills,
            "party_member": party,
            "gender": rng.choice(("female", "male")),
            "channels": [CHANNEL],
        }
    )
    return body


FAKE_PHONE_PREFIX = "138000"  # 138 0000 xxxx and 138 000x xxxx: obviously made up
FAKE_PHONES = 100_000


def fake_phone(number: str) -> str:
    """The `number`-th made-up phone: a random 13x number may be a real person's, who would
    then receive a bench's or a test's offers. One per helper number, so the helpers of a
    community (numbered 0, 1, … by every preset) never share one (one phone, one helper)."""
    if not (number.isascii() and number.isdigit()) or int(number) >= FAKE_PHONES:
        raise ValueError(f"a made-up phone needs a helper number below {FAKE_PHONES}: {number!r}")
    return f"{FAKE_PHONE_PREFIX}{int(number):05d}"


# ---------------------------------------------------------------------- presets
DEMO = Layout(
    grids=2,
    compounds_per_grid=2,
    buildings_per_compound=4,
    compound_names=(
        "图强小区",
        "振兴小区",
        "华新花园",
        "南华苑",
        "东方巷",
        "光明里",
        "新村",
        "桂园",
    ),
    compound_ids="grid",
    name_shift_per_community=4,
)

BENCH = Layout(
    grids=4,
    compounds_per_grid=2,
    buildings_per_compound=40,  # 320 buildings per community: room for many distinct incidents
    compound_names=("花园", "新村", "家园", "雅苑", "名城", "公寓", "小区", "花苑"),
    community_names=(
        "图强",
        "思明",
        "鼓浪",
        "湖滨",
        "莲前",
        "筼筜",
        "开元",
        "嘉禾",
        "滨海",
        "文灶",
    ),
)
