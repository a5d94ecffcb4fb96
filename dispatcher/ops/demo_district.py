"""A deterministic demo district (思明区-like): communities, grids, compounds, buildings and a
few hundred helpers with skills, roles and pairings, generated from a seed (the `DEMO`
preset of ops/district.py).

Bodies are what PUT /v1/admin/helpers/{id} takes. No phone numbers: the demo never needs
them, and fake ones look real enough to end up somewhere they should not.
"""

from __future__ import annotations

import random
from typing import Any

from dispatcher.ops.district import CHANNEL, DEMO, Building, helper_body

COMMUNITIES: tuple[tuple[str, str], ...] = (
    ("demo-zhonghua", "中华社区"),
    ("demo-kaiyuan", "开元社区"),
    ("demo-lujiang", "鹭江社区"),
)
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
# Who writes for those households in the chat groups (the stories' senders) → household:
# the dev bots' member map, so a message from them reaches the paired ring first.
STORY_SENDERS = {"u-lin-grandchild": "h-elder-lin", "u-zheng": "h-elder-88"}


def places(community_id: str) -> list[Building]:
    """2 grids x 2 compounds x 4 buildings per community."""
    index = [c for c, _ in COMMUNITIES].index(community_id)
    return DEMO.buildings(community_id, index)


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
            body = helper_body(
                rng,
                hid,
                f"{i:03d}",
                spot.place(household_id=f"hh-{hid}"),
                skills,
                roles,
                party=party,
                surnames=SURNAMES,
            )
            body["languages"] = ["minnan"] if rng.random() < 0.2 else []
            bodies.append(body)
        # The stories' paired neighbours live in the same building as their elders.
        for j, household in enumerate(STORY_PAIRINGS.get(community_id, ())):
            hid = f"{community_id.removeprefix('demo-')}-pair-{j}"
            bodies.append(
                {
                    "helper_id": hid,
                    "name": f"{SURNAMES[j]}阿姨" if j == 0 else f"{SURNAMES[j + 1]}大哥",
                    "place": spots[j].place(household_id=f"hh-{hid}"),
                    "roles": ["party_member"],
                    "skills": ["first_aid", "elder_care"] if j == 0 else ["carrying", "errands"],
                    "party_member": True,
                    "paired_household_ids": [household],
                    "channels": [CHANNEL],
                }
            )
    return bodies
