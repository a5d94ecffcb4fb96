"""A synthetic city for `bench e2e`, generated deterministically from a seed (the `BENCH`
preset of ops/district.py, helpers drawn as below).

Communities (社区) → grids (网格) → compounds (小区) → buildings (楼栋); helpers with skills
(drivers, doctors, nurses, carriers, plumbers…), party members, building heads, grid
workers and community staff on duty, pairings with elderly households. Requests are spread
over communities and buildings with realistic categories and urgencies, and every request
is a DISTINCT incident: the API merges reports with the same community + compound +
building + category within 15 minutes, so no (building, category) pair is used twice in a
run (`IncidentKeys`). Bodies are plain dicts in the HTTP API's shapes (admin `HelperIn`,
bot `HelpRequestIn`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dispatcher.ops.district import BENCH, Building, helper_body

REQUESTER_PHONE_PREFIX = "138001"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"

# (skill, share of helpers having it)
SKILL_SHARES: tuple[tuple[str, float], ...] = (
    ("driving", 0.18),
    ("carrying", 0.12),
    ("errands", 0.15),
    ("first_aid", 0.06),
    ("elder_care", 0.06),
    ("child_care", 0.04),
    ("plumbing", 0.04),
    ("electrical", 0.04),
    ("nurse", 0.03),
    ("doctor", 0.015),
    ("tech_help", 0.05),
    ("translation", 0.01),
    ("general", 0.30),
)


@dataclass(frozen=True)
class Kind:
    """A kind of request: category, urgencies (weighted), skills, helpers, a message."""

    category: str
    weight: float
    urgencies: tuple[tuple[str, float], ...]
    skills: tuple[str, ...]
    text: str
    helpers_needed: tuple[int, ...] = (1,)


KINDS: tuple[Kind, ...] = (
    Kind("errand", 22, (("normal", 0.7), ("low", 0.3)), ("errands",), "谁能帮忙去药店买点药？"),
    Kind("repair", 12, (("urgent", 0.5), ("normal", 0.5)), ("plumbing",), "家里水管爆了，谁会修？"),
    Kind(
        "hospital_transport",
        10,
        (("critical", 0.5), ("urgent", 0.5)),
        ("driving", "nurse"),
        "我身体不舒服，谁能送我去医院？",
    ),
    Kind("medical", 8, (("critical", 0.6), ("urgent", 0.4)), ("doctor",), "老人胸口疼，有医生吗？"),
    Kind(
        "fall",
        6,
        (("critical", 0.5), ("urgent", 0.5)),
        ("first_aid", "carrying"),
        "我爸摔倒了起不来，求帮忙！",
        (1, 2),
    ),
    Kind("carrying", 10, (("normal", 1.0),), ("carrying",), "冰箱要搬上楼，需要两个人", (2,)),
    Kind(
        "companionship", 10, (("normal", 0.8), ("low", 0.2)), ("elder_care",), "想找人陪老人聊聊天"
    ),
    Kind("lost_person", 4, (("urgent", 1.0),), ("general",), "一位老人在门口迷路了，谁认识？"),
    Kind(
        "tech_help", 10, (("normal", 0.5), ("low", 0.5)), ("tech_help",), "手机连不上网，谁会弄？"
    ),
    Kind("other", 8, (("normal", 1.0),), ("general",), "家里有点事想请邻居帮忙"),
)


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in pairs)
    for value, w in pairs:
        x -= w
        if x <= 0:
            return value
    return pairs[-1][0]


@dataclass
class City:
    communities: list[str]
    buildings: list[Building]
    helpers: list[dict[str, Any]]
    # Households paired with a party member, by building (requests from them hit PAIRED).
    paired: dict[str, list[str]] = field(default_factory=dict)

    def skill_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for h in self.helpers:
            for s in h["skills"]:
                counts[s] = counts.get(s, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def summary(self) -> dict[str, Any]:
        return {
            "communities": len(self.communities),
            "grids": len(self.communities) * BENCH.grids,
            "compounds": len(self.communities) * BENCH.grids * BENCH.compounds_per_grid,
            "buildings": len(self.buildings),
            "helpers": len(self.helpers),
            "party_members": sum(1 for h in self.helpers if h["party_member"]),
            "paired_households": sum(len(v) for v in self.paired.values()),
            "skills": self.skill_counts(),
            "distinct_incident_keys": len(self.buildings) * len(KINDS),
        }


def community_ids(n: int) -> list[str]:
    return [f"bench-sq{i + 1:02d}" for i in range(n)]


def build_city(communities: int, helpers_per_community: int, seed: int) -> City:
    rng = random.Random(seed)
    buildings: list[Building] = []
    helpers: list[dict[str, Any]] = []
    paired: dict[str, list[str]] = {}
    for ci, cid in enumerate(community_ids(communities)):
        own = BENCH.buildings(cid, ci)
        buildings += own
        # Helpers cluster: a few buildings have many volunteers, most have one or none.
        weights = [rng.paretovariate(1.5) for _ in own]
        for i in range(helpers_per_community):
            home = rng.choices(own, weights)[0]
            hid = f"{cid}-h{i:05d}"
            skills = [s for s, share in SKILL_SHARES if rng.random() < share] or ["general"]
            party = rng.random() < 0.22
            roles = ["party_member" if party else "volunteer"]
            if i % 40 == 0:
                roles.append("building_head")
            if i % 60 == 1:
                roles.append("grid_worker")
            if i % 50 == 2:
                roles.append("community_staff")  # on duty: the whistle ring
            household = f"{home.building_id}-{rng.randint(1, 6)}0{rng.randint(1, 4)}"
            body = helper_body(
                rng,
                hid,
                str(i),
                home.place(household_id=f"{cid}-{household}"),
                skills,
                roles,
                party=party,
                surnames=SURNAMES,
                with_phone=True,
            )
            if rng.random() < 0.25:
                body["do_not_disturb"] = {"start": "22:30", "end": "06:30"}
            if party and rng.random() < 0.5:  # 结对: an elderly household in the same building
                elder = f"{cid}-{home.building_id}-elder{i}"
                body["paired_household_ids"] = [elder]
                paired.setdefault(f"{cid}/{home.compound_id}/{home.building_id}", []).append(elder)
            helpers.append(body)
    return City(community_ids(communities), buildings, helpers, paired)


def requester_phone(draw: int) -> str:
    """A made-up requester phone: a random 13x number may be a real person's. 138 001x xxxx,
    beside the helpers' 138000xxxxx (`fake_phone`): no requester is one of the helpers, who
    would then not be offered her own request."""
    return f"{REQUESTER_PHONE_PREFIX}{draw % 100_000:05d}"


class KeysExhaustedError(RuntimeError):
    """Every (building, category) pair has been used: more requests would be merged."""


class IncidentKeys:
    """Hands out (building, kind) pairs, never one in use twice: distinct incidents for the
    API. A pair is in use until `release`d (the bench releases a request's pair once the read
    model has it closed: the API's merge check then no longer matches it).

    The kind follows the realistic weights; when the drawn pair is in use, the next kinds
    of that building, then the next buildings, are tried (the mix drifts towards uniform
    only once most keys are in use)."""

    def __init__(self, city: City, seed: int) -> None:
        self._rng = random.Random(seed)
        self._buildings = city.buildings
        self._used: set[tuple[int, int]] = set()
        self._kind_weights = [k.weight for k in KINDS]
        self.capacity = len(city.buildings) * len(KINDS)
        self.released = 0

    @property
    def remaining(self) -> int:
        return self.capacity - len(self._used)

    def take(self) -> tuple[Building, Kind, tuple[int, int]]:
        """A building and kind not in use, and their pair (what `release` takes back)."""
        if not self.remaining:
            raise KeysExhaustedError(
                f"all {self.capacity} distinct (building, category) keys used: "
                "raise --communities for a longer run"
            )
        b = self._rng.randrange(len(self._buildings))
        k = self._rng.choices(range(len(KINDS)), self._kind_weights)[0]
        for db in range(len(self._buildings)):
            bi = (b + db) % len(self._buildings)
            for dk in range(len(KINDS)):
                ki = (k + dk) % len(KINDS)
                if (bi, ki) not in self._used:
                    self._used.add((bi, ki))
                    return self._buildings[bi], KINDS[ki], (bi, ki)
        raise AssertionError("unreachable: remaining > 0")

    def release(self, pairs: Iterable[tuple[int, int]]) -> None:
        for pair in pairs:
            if pair in self._used:
                self._used.discard(pair)
                self.released += 1


@dataclass
class RequestFactory:
    """Request bodies (bot `HelpRequestIn`), each a distinct incident with its own message id."""

    city: City
    seed: int
    bot_id: str
    run_tag: str
    keys: IncidentKeys = field(init=False)
    _rng: random.Random = field(init=False)
    _n: int = 0
    # message id → its incident key, until the key is released (`release`)
    _key_of: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = IncidentKeys(self.city, self.seed + 1)
        self._rng = random.Random(self.seed + 2)

    def make(self) -> dict[str, Any]:
        rng = self._rng
        b, kind, pair = self.keys.take()
        self._n += 1
        self._key_of[self.message_id(self._n)] = pair
        unit, floor, room = rng.randint(1, 4), rng.randint(1, 18), rng.randint(1, 4)
        place = b.place(unit=str(unit), floor=floor)
        elders = self.city.paired.get(f"{b.community_id}/{b.compound_id}/{b.building_id}")
        if elders and rng.random() < 0.5:
            place["household_id"] = rng.choice(elders)
        else:
            place["household_id"] = f"{b.community_id}-{b.building_id}-{floor}0{room}"
        name = rng.choice(SURNAMES) + rng.choice(("女士", "先生", "阿姨", "大爷"))
        return {
            "place": place,
            "category": kind.category,
            "urgency": _weighted(rng, kind.urgencies),
            "skills": list(kind.skills),
            "helpers_needed": rng.choice(kind.helpers_needed),
            "text": f"{b.number}号楼{unit}单元：{kind.text}",
            "contact": {
                "name": name,
                "phone": requester_phone(rng.randint(0, 99_999_999)),  # the draw as before
                "address": f"{b.number}号楼{unit}单元{floor}0{room}",
            },
            "source": {
                "bot_id": self.bot_id,
                "group_id": f"{b.community_id}-{b.grid_id}-group",
                "message_id": self.message_id(self._n),
            },
        }

    def message_id(self, n: int) -> str:
        return f"{self.run_tag}-m{n:07d}"

    def release(self, message_ids: Iterable[str]) -> int:
        """The incident keys of these requests (by their message ids) free for new ones: the
        requests were never sent, or are closed. The count released."""
        pairs = [p for m in message_ids if (p := self._key_of.pop(m, None)) is not None]
        self.keys.release(pairs)
        return len(pairs)

    def batch(self, n: int) -> Iterator[dict[str, Any]]:
        for _ in range(n):
            yield self.make()
