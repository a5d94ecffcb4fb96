"""The moments this software exists for, as data (from the product brief's source articles),
plus a stream of everyday chat-group requests. Bodies are what POST /v1/requests takes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from dispatcher.ops.demo_district import places


@dataclass(frozen=True)
class Story:
    key: str
    title: str
    body: dict[str, Any]
    resolve_after_s: float = 20.0  # once covered, the helper marks it done (scaled)


def _place(community: str, n: int, **extra: Any) -> dict[str, Any]:
    return places(community)[n].body(**extra)


def _src(message_id: str, group: str = "grid-1-group") -> dict[str, str]:
    return {"group_id": group, "message_id": message_id}


STORIES: tuple[Story, ...] = (
    Story(
        "pregnant-8pm",
        "晚上8点，怀孕六个月的邻居腹痛气短 / 8 pm: six months pregnant, pain, short of breath",
        {
            "place": _place("demo-zhonghua", 2, unit="2", floor=5, household_id="hh-wang"),
            "category": "hospital_transport",
            "urgency": "critical",
            "skills": ["driving", "doctor", "nurse"],
            "helpers_needed": 2,
            "text": "亲爱的邻居们，我身体不舒服，谁能帮忙送我去医院？",
            "contact": {"name": "王女士"},
            "prefer_gender": "female",
            "source": _src("story-pregnant-8pm"),
        },
        resolve_after_s=40,
    ),
    Story(
        "elder-collapsed",
        "近八十岁的林阿婆在家晕倒，打给结对邻居 / Near 80, collapsed; calls her paired neighbour",
        {
            "place": _place("demo-zhonghua", 0, unit="1", floor=3, household_id="h-elder-lin"),
            "category": "fall",
            "urgency": "critical",
            "skills": ["first_aid"],
            "helpers_needed": 1,
            "text": "林阿婆晕倒了，快来人！",
            "contact": {"name": "林阿婆"},
            "source": _src("story-elder-collapsed"),
        },
        resolve_after_s=60,
    ),
    Story(
        "burst-pipe",
        "谁家水管破了 / A burst pipe",
        {
            "place": _place("demo-kaiyuan", 5, unit="1", floor=2, household_id="hh-chen"),
            "category": "repair",
            "urgency": "urgent",
            "skills": ["plumbing"],
            "helpers_needed": 1,
            "text": "厨房水管爆了，水一直在流，有会修水管的邻居吗？",
            "contact": {"name": "陈先生"},
            "source": _src("story-burst-pipe", "grid-2-group"),
        },
    ),
    Story(
        "elder-88-carrying",
        "88岁独居老人需要搬重物 / 88, living alone: something heavy to carry",
        {
            "place": _place("demo-zhonghua", 1, unit="1", floor=6, household_id="h-elder-88"),
            "category": "carrying",
            "urgency": "normal",
            "skills": ["carrying"],
            "helpers_needed": 2,
            "text": "家里有一袋米和一箱水搬不上六楼，谁能帮帮忙？",
            "contact": {"name": "郑伯"},
            "source": _src("story-elder-88-carrying"),
        },
    ),
    Story(
        "elder-88-sim",
        "88岁老人要办手机卡 / 88: needs a SIM card",
        {
            "place": _place("demo-zhonghua", 1, unit="1", floor=6, household_id="h-elder-88"),
            "category": "errand",
            "urgency": "low",
            "skills": ["errands", "tech_help"],
            "helpers_needed": 1,
            "text": "老人手机卡坏了，想请人陪去营业厅补办一张",
            "contact": {"name": "郑伯"},
            "source": _src("story-elder-88-sim"),
        },
    ),
)

# Everyday messages in the grid groups (category, urgency, skills, text).
CHATTER: tuple[tuple[str, str, list[str], str], ...] = (
    ("errand", "normal", ["errands"], "谁家要买药？我腿脚不便，想请人帮忙去药店买降压药"),
    ("companionship", "normal", ["elder_care"], "我妈一个人在家，下午能不能请邻居陪她坐一会儿"),
    ("tech_help", "low", ["tech_help"], "有没有人会弄手机，老人的健康码打不开了"),
    ("carrying", "normal", ["carrying"], "楼下有个冰箱要搬上四楼，求两位力气大的邻居"),
    ("repair", "urgent", ["electrical"], "家里突然跳闸了，全屋没电，有懂电的邻居吗"),
    ("lost_person", "critical", ["general"], "小区门口有位老人迷路了，说不清家在哪，大家帮忙看看"),
    ("errand", "low", ["errands"], "明天谁去菜市场，能帮我带一把青菜吗"),
    ("companionship", "low", ["child_care"], "今晚加班，孩子放学能不能请邻居帮忙接一下"),
)


def chatter(seed: int, count: int) -> list[dict[str, Any]]:
    """`count` everyday requests spread over the district (never two alike in one building,
    which the API would merge as one incident)."""
    rng = random.Random(seed + 1)
    out = []
    for i in range(count):
        category, urgency, skills, text = CHATTER[i % len(CHATTER)]
        community = ("demo-zhonghua", "demo-kaiyuan", "demo-lujiang")[rng.randrange(3)]
        spot = rng.randrange(len(places(community)))
        out.append(
            {
                "place": _place(community, spot, household_id=f"hh-chat-{i}"),
                "category": category,
                "urgency": urgency,
                "skills": skills,
                "helpers_needed": 1,
                "text": text,
                "source": _src(f"chatter-{seed}-{i}", f"grid-{spot // 8 + 1}-group"),
            }
        )
    return out
