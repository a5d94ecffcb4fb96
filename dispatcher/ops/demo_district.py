"""A deterministic demo district (思明区-like): communities, grids, compounds, buildings and a
few hundred helpers with skills, roles and pairings, generated from a seed.

Bodies are what PUT /v1/admin/helpers/{id} takes. No phone numbers: the demo never needs
them, and fake ones look real enough to end up somewhere they should not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

COMMUNITIES: tuple[tuple[str, str], ...] = (
    ("demo-zhonghua", "中华社区"),
    ("demo-kaiyuan", "开元社区"),
    ("demo-lujiang", "鹭江社区"),
)
COMPOUND_NAMES = ("图强小区", "振兴小区", "华新花园", "南华苑", "东方巷", "光明里", "新村", "桂园")
SURNAMES = "林陈黄张王李吴刘蔡杨郑许谢洪郭曾邱苏"
# Weighted skills: many general neighbours and drivers, a few doctors and nurses.
SKILLS: tuple[tuple[str, int], ...] = (
    ("general", 30),
    ("driving", 18),
    ("carrying", 14),
    ("errands", 14),
    ("elder_care", 8),
    ("first_aid", 6),
    ("tech_help", 8),
    ("plumbing", 5),
    ("electrical", 5),
    ("nurse", 4),
    ("doctor", 3),
    ("child_care", 5),
    ("translation", 3),
)

# Households the stories need, paired with a named helper (结对).
STORY_PAIRINGS = {"demo-zhonghua": ("h-elder-lin", "h-elder-88")}


@dataclass(frozen=True)
class Place:
    community_id: str
    grid_id: str
    compound_id: str
    compound_name: str
    building_id: str

    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "community_id": self.community_id,
            "grid_id": self.grid_id,
            "compound_id": self.compound_id,
            "building_id": self.building_id,
            "compound_name": self.compound_name,
            "building_name": f"{self.building_id.removeprefix('b')}号楼",
            **extra,
        }


def places(community_id: str) -> list[Place]:
    """2 grids x 2 compounds x 4 buildings per community."""
    index = [c for c, _ in COMMUNITIES].index(community_id)
    out = []
    for g in range(2):
        for c in range(2):
            n = (index * 4 + g * 2 + c) % len(COMPOUND_NAMES)
            for b in range(1, 5):
                out.append(
                    Place(community_id, f"g{g + 1}", f"c{g + 1}{c + 1}", COMPOUND_NAMES[n], f"b{b}")
                )
    return out


def helpers(seed: int = 7, per_community: int = 100) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names, weights = zip(*SKILLS, strict=True)
    bodies: list[dict[str, Any]] = []
    for community_id, _ in COMMUNITIES:
        spots = places(community_id)
        for i in range(per_community):
            hid = f"{community_id.removeprefix('demo-')}-{i:03d}"
            spot = spots[i % len(spots)] if i < len(spots) * 2 else rng.choice(spots)
            skills = sorted(set(rng.choices(names, weights, k=rng.choice((1, 1, 2, 3)))))
            party = rng.random() < 0.3
            roles = ["party_member"] if party else ["volunteer"]
            if i < 2:
                roles = ["community_staff"]  # on duty: the whistle ring
            elif i % 16 == 2:
                roles.append("building_head")
            body: dict[str, Any] = {
                "helper_id": hid,
                "name": f"{rng.choice(SURNAMES)}{'师傅' if 'driving' in skills else '邻居'}{i:03d}",
                "place": spot.body(household_id=f"hh-{hid}"),
                "roles": roles,
                "skills": skills,
                "party_member": party,
                "gender": rng.choice(("female", "male")),
                "channels": ["webhook:default"],
                "languages": ["minnan"] if rng.random() < 0.2 else [],
            }
            bodies.append(body)
        # The stories' paired neighbours live in the same building as their elders.
        for j, household in enumerate(STORY_PAIRINGS.get(community_id, ())):
            hid = f"{community_id.removeprefix('demo-')}-pair-{j}"
            bodies.append(
                {
                    "helper_id": hid,
                    "name": f"{SURNAMES[j]}阿姨" if j == 0 else f"{SURNAMES[j + 1]}大哥",
                    "place": spots[j].body(household_id=f"hh-{hid}"),
                    "roles": ["party_member"],
                    "skills": ["first_aid", "elder_care"] if j == 0 else ["carrying", "errands"],
                    "party_member": True,
                    "paired_household_ids": [household],
                    "channels": ["webhook:default"],
                }
            )
    return bodies
