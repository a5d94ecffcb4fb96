"""Dev-only bots for `make run`: the generic `dev-bot` and one robot per platform, all in
the demo district's chat groups of every kind (community, grid, compound, building).

Only on an unconfigured dev install (no bots file, the default link secret): the
credentials below are public. Group ids: `demo-zhonghua` (the community's group),
`demo-zhonghua-g1` (a grid), `demo-zhonghua-c11` (a compound), `demo-zhonghua-c11-b3`
(a building). `python -m dispatcher platform-sample` posts correctly signed samples.
"""

from __future__ import annotations

from pydantic import SecretStr

from dispatcher.groupchat.bots import DEV_BOT, BotConfig, GroupPlace, MemberLink, PlatformConfig
from dispatcher.ops.demo_district import COMMUNITIES, STORY_SENDERS, places

DEV_WECOM_TOKEN = "dev-wecom-token"
DEV_WECOM_AES_KEY = "ZGV2LW9ubHktd2Vjb20tYWVzLWtleS0zMi1ieXRlcyE"  # 43 characters
DEV_WECOM_CORP = "ww-dev-corp"
DEV_DINGTALK_SECRET = "dev-only-dingtalk-app-secret-change-me"
DEV_FEISHU_TOKEN = "dev-feishu-verification-token"
DEV_FEISHU_KEY = "dev-feishu-encrypt-key"

DEV_PLATFORMS: dict[str, PlatformConfig] = {
    "wecom": PlatformConfig(
        kind="wecom",
        token=SecretStr(DEV_WECOM_TOKEN),
        encoding_aes_key=SecretStr(DEV_WECOM_AES_KEY),
        receive_id=DEV_WECOM_CORP,
    ),
    "dingtalk": PlatformConfig(kind="dingtalk", app_secret=SecretStr(DEV_DINGTALK_SECRET)),
    "feishu": PlatformConfig(
        kind="feishu",
        verification_token=SecretStr(DEV_FEISHU_TOKEN),
        encrypt_key=SecretStr(DEV_FEISHU_KEY),
    ),
}


def demo_groups() -> dict[str, GroupPlace]:
    groups: dict[str, GroupPlace] = {}
    for community, _ in COMMUNITIES:
        groups[community] = GroupPlace(community_id=community)
        for p in places(community):
            compound = GroupPlace(
                community_id=community,
                grid_id=p.grid_id,
                compound_id=p.compound_id,
                compound_name=p.compound_name,
            )
            groups.setdefault(
                f"{community}-{p.grid_id}", GroupPlace(community_id=community, grid_id=p.grid_id)
            )
            groups.setdefault(f"{community}-{p.compound_id}", compound)
            groups[f"{community}-{p.compound_id}-{p.building_id}"] = compound.model_copy(
                update={
                    "building_id": p.building_id,
                    "building_name": f"{p.building_id.removeprefix('b')}号楼",
                }
            )
    return groups


def dev_bots() -> list[BotConfig]:
    groups = {**DEV_BOT.groups, **demo_groups()}
    communities = DEV_BOT.communities | {c for c, _ in COMMUNITIES}
    # The demo stories' senders, known as their households (结对: the paired ring first).
    members = {sender: MemberLink(household_id=hh) for sender, hh in STORY_SENDERS.items()}
    generic = DEV_BOT.model_copy(
        update={"groups": groups, "communities": communities, "members": members}
    )
    robots = [
        BotConfig(
            bot_id=f"dev-{kind}",
            platform=platform,
            communities=communities,
            groups=groups,
            members=members,
        )
        for kind, platform in DEV_PLATFORMS.items()
    ]
    return [generic, *robots]
