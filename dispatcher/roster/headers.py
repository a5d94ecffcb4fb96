"""The column headers ledgers use (姓名, 电话/手机, 小区, 楼栋 …), each mapped to our field."""

from __future__ import annotations

# Header aliases → our field. First match wins; compared without spaces, case-insensitive.
HEADERS: dict[str, tuple[str, ...]] = {
    "helper_id": ("编号", "志愿者编号", "id", "helper_id"),
    "name": ("姓名", "名字", "name"),
    "phone": ("电话", "手机", "手机号", "手机号码", "联系电话", "phone"),
    "compound": ("小区", "小区名称", "所在小区", "院落", "compound"),
    "compound_id": ("小区编号", "compound_id"),
    "grid": ("网格", "所属网格", "网格编号", "grid"),
    "building": ("楼栋", "楼号", "楼", "住址楼栋", "building"),
    "unit": ("单元", "unit"),
    "household": ("户号", "门牌", "门牌号", "房号", "住址", "household"),
    "pairing": ("结对", "结对户", "结对对象", "结对帮扶", "paired_households"),
    "skills": ("技能", "特长", "专长", "技能特长", "skills"),
    "party": ("党员", "是否党员", "政治面貌", "party_member"),
    "availability": ("可服务时间", "服务时间", "空闲时间", "时间", "availability"),
    "roles": ("身份", "职务", "角色", "roles"),
    "gender": ("性别", "gender"),
    "platform_user_id": (
        "平台账号",
        "用户ID",
        "企业微信",
        "企业微信ID",
        "钉钉ID",
        "飞书ID",
        "platform_user_id",
    ),
    "channel": ("渠道", "推送渠道", "通知渠道", "channel", "channels"),
    "party_branch": ("支部", "党支部", "所属支部", "所属党支部", "party_branch"),
    "party_group": ("党小组", "楼道党小组", "所属党小组", "party_group"),
    "teams": ("团队", "所属团队", "服务队", "志愿服务队", "teams"),
}
REQUIRED = ("name", "phone", "building")
