"""The moments this software exists for (from the product brief's source articles), as the
chat messages a resident would post in a group of the demo district, plus a stream of
everyday group chatter: some of it asks for help, some of it does not (the classifier sorts
it out). Groups are the dev bots' groups (api/dev_bots.py): `demo-zhonghua-c11-b3` is
building 3 of compound c11 in community demo-zhonghua."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dispatcher.ops.demo_district import COMMUNITIES, places


@dataclass(frozen=True)
class ChatLine:
    """One message as the group's bot relays it to POST /v1/messages."""

    key: str
    title: str
    group_id: str
    sender_id: str
    sender_name: str
    text: str
    expect_category: str | None  # what the classifier should make of it; None: no request


def building_group(community: str, n: int) -> str:
    """The chat group of the community's n-th building (the dev bots' group id)."""
    p = places(community)[n]
    return f"{community}-{p.compound_id}-{p.building_id}"


STORIES: tuple[ChatLine, ...] = (
    ChatLine(
        "pregnant-8pm",
        "晚上8点，怀孕六个月的邻居腹痛气短 / 8 pm: six months pregnant, pain, short of breath",
        building_group("demo-zhonghua", 2),
        "u-wang",
        "王女士",
        "我怀孕六个月，突然肚子疼，喘不上气，谁能开车送我去医院？",
        "hospital_transport",
    ),
    ChatLine(
        "elder-collapsed",
        "近八十岁的林阿婆在家晕倒 / Near 80, collapsed at home",
        building_group("demo-zhonghua", 0),
        "u-lin-grandchild",
        "林阿婆的孙女",
        "1单元3楼林阿婆晕倒了，快来人！",
        "medical",
    ),
    ChatLine(
        "burst-pipe",
        "谁家水管破了 / A burst pipe",
        building_group("demo-kaiyuan", 5),
        "u-chen",
        "陈先生",
        "厨房水管爆了，水一直在流，有会修水管的邻居吗？",
        "repair",
    ),
    ChatLine(
        "elder-88-carrying",
        "88岁独居老人需要搬重物 / 88, living alone: something heavy to carry",
        building_group("demo-zhonghua", 1),
        "u-zheng",
        "郑伯",
        "家里有一袋米和一箱水搬不上六楼，谁能帮帮忙？",
        "carrying",
    ),
    ChatLine(
        "elder-88-sim",
        "88岁老人要办手机卡 / 88: needs a SIM card",
        building_group("demo-zhonghua", 1),
        "u-zheng",
        "郑伯",
        "老人手机卡坏了，想请人陪去营业厅补办一张",
        "errand",
    ),
)

# Everyday messages in the groups: (text, what the classifier should make of it).
CHATTER: tuple[tuple[str, str | None], ...] = (
    ("谁家要买药？我腿脚不便，想请人帮忙去药店买降压药", "errand"),
    ("大家晚上好，今天社区活动很热闹", None),
    ("我妈一个人在家，下午能不能请邻居陪她坐一会儿", "companionship"),
    ("有没有人会弄手机，老人的健康码打不开了", "tech_help"),
    ("明天上午9点到12点停水，请大家提前储水", None),
    ("楼下有个冰箱要搬上四楼，谁能来帮忙抬一下？", "carrying"),
    ("家里突然跳闸了，全屋没电，有懂电的邻居吗", "repair"),
    ("小区门口有位老人迷路了，说不清家在哪，大家帮忙看看", "lost_person"),
    ("明天谁去菜市场，能帮我带一把青菜吗", "errand"),
    ("今晚加班，孩子放学能不能请邻居帮忙接一下", "companionship"),
)


def chatter(seed: int, count: int) -> list[ChatLine]:
    """`count` everyday messages spread over the district's building groups, never a request
    in a building where a story or an earlier message asks for the same kind of help (the
    API would merge the two as one incident). Texts repeat past len(CHATTER); each kind of
    help fits once per building, so `count` is bounded (ValueError past it)."""
    rng = random.Random(seed + 1)
    taken = {(s.group_id, s.expect_category) for s in STORIES}
    out = []
    for i in range(count):
        text, expect = CHATTER[i % len(CHATTER)]
        group = _free_group(rng, expect, taken)
        if group is None:
            raise ValueError(
                f"{count} everyday messages: more than fit apart in the {len(_GROUPS)} buildings"
            )
        taken.add((group, expect))
        out.append(
            ChatLine(
                f"chat-{i + 1}", f"chat {i + 1}", group, f"u-chat-{i}", f"邻居{i + 1}", text, expect
            )
        )
    return out


_GROUPS = tuple(
    building_group(community, n)
    for community, _ in COMMUNITIES
    for n in range(len(places(community)))
)


def _free_group(
    rng: random.Random, expect: str | None, taken: set[tuple[str, str | None]]
) -> str | None:
    """A random building group where no request of kind `expect` is yet (any, for chatter
    that asks for nothing); None when every one has one."""
    free = [g for g in _GROUPS if expect is None or (g, expect) not in taken]
    return rng.choice(free) if free else None
