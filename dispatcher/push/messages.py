"""Chinese message texts, rendered by pure functions from small input specs.

Offers, stand-downs, cancellations and whistles reach groups and people who have not
accepted: they name the compound and building at most ("阳光花园 3号楼", see places.py),
never the flat or a phone number.
Only the assignment, sent to the one helper who accepted, carries the requester's
contact and exact place (PIPL: minimum necessary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from dispatcher.core.trusted import builder
from dispatcher.push.model import PushMessage
from dispatcher.push.places import place_label
from schemas.catalogue import entry
from schemas.requests import emergency_number_for
from schemas.vocab import Category, EmergencyNumber, Skill, Urgency

URGENCY_ZH: dict[Urgency, str] = {
    Urgency.CRITICAL: "危急",
    Urgency.URGENT: "紧急",
    Urgency.NORMAL: "今日",
    Urgency.LOW: "不急",
}

SKILL_ZH: dict[Skill, str] = {
    Skill.DRIVING: "有车能开车",
    Skill.DOCTOR: "医生",
    Skill.NURSE: "护士",
    Skill.FIRST_AID: "会急救",
    Skill.CARRYING: "能搬抬",
    Skill.ELDER_CARE: "照护老人",
    Skill.CHILD_CARE: "照看孩子",
    Skill.PLUMBING: "水管维修",
    Skill.ELECTRICAL: "电工",
    Skill.ERRANDS: "跑腿",
    Skill.TECH_HELP: "懂手机电脑",
    Skill.LEGAL: "法律咨询",
    Skill.TRANSLATION: "方言翻译",
    Skill.GENERAL: "热心邻居",
}

# Where life may be at risk the text says so; software never replaces 120.
CALL_EMERGENCY = "如有生命危险，请立即拨打{number}。"


# `\s` is exactly `str.isspace` (both are Py_UNICODE_ISSPACE): one C scan of the URL
# instead of a Python step per character (offer links are ~280 characters).
_SPACE = re.compile(r"\s")


def checked_link(url: str) -> str:
    url = url.strip()
    if not url.startswith(("https://", "http://")) or _SPACE.search(url):
        raise ValueError("links must be absolute http(s) URLs")
    return url


# An offer pushed after its own time (decided late): the link still works until the end.
REPLY_ASAP = "请尽快回复。"
# An offer asked again on a reopened slot (a withdrawal, a no-show) of a helper told
# earlier "已有邻居接手…无需再来" (core/draft.py `not_to_ask`): word for word the first
# offer, it read as a stray repeat under that stand-down.
ASKED_AGAIN = "之前接单的邻居去不了了，仍需要您帮忙。"


def _headline(
    urgency: Urgency, category: Category, compound: str | None, building: str | None
) -> str:
    return f"【{URGENCY_ZH[urgency]}】{place_label(compound, building)} {entry(category).zh}"


# A request's own say on whom to call (`RequestSpec.life_threatening`, `.emergency_number`:
# a red flag, the number its words named); (None, None): not known here, the kind's rule.
Told = tuple[bool | None, EmergencyNumber | None]
BY_KIND: Told = (None, None)


def _safety_line(urgency: Urgency, category: Category, told: Told = BY_KIND) -> list[str]:
    """The number to call, by the rule the requester is told by (`RequestSpec.emergency`):
    every critical kind but a repair is life-threatening and names one (not only those
    marked `life_at_risk`, which left a critical errand or lost person without it), and a
    request's own red flag or named number (a fire reported as `other`: 119) wins."""
    number = emergency_number_for(urgency, category, *told)
    return [CALL_EMERGENCY.format(number=number)] if number is not None else []


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """An invitation to help. Deliberately has no field for contact or exact address."""

    category: Category
    urgency: Urgency
    building: str | None  # e.g. "阳光花园 3号楼" (the stored label); anything finer is dropped
    accept_url: str
    decline_url: str
    compound: str | None = None
    helpers_needed: int = 1
    skills: tuple[Skill, ...] = ()
    reply_within_minutes: int | None = None
    # For a group robot: the one link (no secret) where a bound phone answers as its helper.
    # The per-helper accept/decline links are then left out of the text.
    answer_url: str | None = None
    # A team offer to its leader: the team's name and size ("帮帮团", 5).
    team: tuple[str, int] | None = None
    # Asked again on a reopened slot, after "已有邻居接手…无需再来" (`ASKED_AGAIN`).
    again: bool = False
    told: Told = BY_KIND  # the request's own say on whom to call
    # A phone need (`WaveOffer.remote`, searched community-wide): asked to call, not to come.
    remote: bool = False


def render_offer(spec: OfferSpec) -> PushMessage:
    return offer_message(
        category=spec.category,
        urgency=spec.urgency,
        compound=spec.compound,
        building=spec.building,
        helpers_needed=spec.helpers_needed,
        skills=spec.skills,
        team=spec.team,
        reply_within_minutes=spec.reply_within_minutes,
        accept_url=spec.accept_url,
        decline_url=spec.decline_url,
        answer_url=spec.answer_url,
        again=spec.again,
        told=spec.told,
        remote=spec.remote,
    )


def offer_message(
    *,
    category: Category,
    urgency: Urgency,
    compound: str | None,
    building: str | None,
    helpers_needed: int,
    skills: tuple[Skill, ...],
    team: tuple[str, int] | None,
    reply_within_minutes: int | None,
    accept_url: str,
    decline_url: str,
    answer_url: str | None,
    again: bool = False,
    told: Told = BY_KIND,
    remote: bool = False,
) -> PushMessage:
    """`render_offer` of a spec with these fields: the notify agent's form (one call per
    offer, no spec object built for it). Keyword-only: neighbours share types."""
    title, head, tail = _offer_frame(
        category,
        urgency,
        compound,
        building,
        helpers_needed,
        skills,
        team,
        reply_within_minutes,
        again,
        told,
        remote,
    )
    yes, no = ("能帮忙", "帮不了") if remote else ("能来", "来不了")
    if answer_url is not None:
        links = [f"请在已绑定的手机上回复：{checked_link(answer_url)}"]
    else:
        links = [f"{yes}：{checked_link(accept_url)}", f"{no}：{checked_link(decline_url)}"]
    return _message(title=title, text="\n".join([*head, *links, *tail]))


# An offer's title and text are str by construction: built unvalidated, one per offer.
_message = builder(PushMessage)


@lru_cache(maxsize=1024)
def _offer_frame(
    category: Category,
    urgency: Urgency,
    compound: str | None,
    building: str | None,
    helpers_needed: int,
    skills: tuple[Skill, ...],
    team: tuple[str, int] | None,
    reply_within_minutes: int | None,
    again: bool = False,
    told: Told = BY_KIND,
    remote: bool = False,
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """An offer's title and the lines around its links: the same for every offer of a wave,
    so written once per wave (a pure function of these fields)."""
    head = [_headline(urgency, category, compound, building)]
    if again:
        head.append(ASKED_AGAIN)
    # A phone need (a nurse who guides by phone) is asked to call: asked to come to a
    # building across the community, a helper would decline a call they would have made.
    need = f"需要{max(1, helpers_needed)}位邻居" + ("电话指导" if remote else "帮忙")
    if skills:
        need += "（" + "、".join(SKILL_ZH[s] for s in dict.fromkeys(skills)) + "）"
    if team is not None and remote:
        name, size = team
        head.append(
            need + f"。您是{name}的负责人（共{size}人），能安排队员打电话吗？无需前往。"
            "接单时填写几位。"
        )
    elif team is not None:
        name, size = team
        head.append(need + f"。您是{name}的负责人（共{size}人），能带队员来吗？接单时填写来几位。")
    else:
        head.append(need + ("，您方便打个电话吗？无需前往。" if remote else "，您能来吗？"))
    # 0: the offer's own time has passed (a push decided late), the link still works.
    tail = (
        [f"请在{reply_within_minutes}分钟内回复。"]
        if reply_within_minutes
        else [REPLY_ASAP]
        if reply_within_minutes == 0
        else []
    )
    tail += _safety_line(urgency, category, told)
    title = f"{URGENCY_ZH[urgency]}：{entry(category).zh}，" + (
        "仍需要您帮忙" if again else "邻居需要帮忙"
    )
    return title, tuple(head), tuple(tail)


@dataclass(frozen=True, slots=True)
class StandDownSpec:
    category: Category
    building: str | None
    compound: str | None = None


STAND_DOWN = "已有邻居接手，谢谢"


def render_stand_down(spec: StandDownSpec) -> PushMessage:
    place = place_label(spec.compound, spec.building)
    text = f"{STAND_DOWN}！\n{place} {entry(spec.category).zh}的求助已有人前往，无需再来。"
    return PushMessage(title=STAND_DOWN, text=text)


@dataclass(frozen=True, slots=True)
class AssignmentSpec:
    """Sent only to the helper who accepted: the one message with contact and place.
    `remote`: the helper guides by phone - asked to call, never told to come (and not
    given the address: minimum necessary). `has_phone`: the requester left a phone; a
    remote helper is asked to call only then. Else `in_group` (the request came from a
    chat group, `RequestSpec.source.group_id`): reach them in that group, as the group
    itself is told (`groupchat.texts.update_for`); a request from no group (staff, a plain
    API call): ask the community's staff, never a group that does not exist."""

    category: Category
    urgency: Urgency
    exact_place: str  # e.g. "莲花五村3号楼2单元501室"
    contact_phone: str
    contact_name: str | None = None  # e.g. "王阿姨"
    note: str | None = None  # short, already vetted by the core
    status_url: str | None = None  # the helper's page: on my way / can't come / done
    remote: bool = False
    # A team member: the leader (their name) signed them up; they did not accept themselves.
    signed_up_by: str | None = None
    # To a team's leader: the members they signed up, and those of them no private
    # message reaches (the leader tells them).
    team_members: tuple[str, ...] = ()
    team_unreached: tuple[str, ...] = ()
    told: Told = BY_KIND  # the request's own say on whom to call
    has_phone: bool = True
    in_group: bool = False


# A remote helper of a requester who left no phone: where to reach them.
REMOTE_IN_GROUP = "求助人未留电话，请在求助的群内@求助人联系，远程指导，无需前往。"
REMOTE_VIA_STAFF = "求助人未留电话，请联系社区工作人员了解如何联系求助人，远程指导，无需前往。"


def render_assignment(spec: AssignmentSpec) -> PushMessage:
    head = f"{entry(spec.category).zh}（{URGENCY_ZH[spec.urgency]}）"
    if spec.signed_up_by is not None:
        lines = [f"队长{spec.signed_up_by.strip() or ''}为您报名了这次求助：{head}"]
    else:
        lines = [f"您已接单：{head}"]
    if spec.team_members:
        lines.append(
            f"同去队员：{'、'.join(n.strip() for n in spec.team_members)}（已各自收到通知）"
        )
    if spec.team_unreached:
        lines.append(
            f"以下队员收不到私信通知，请您转告：{'、'.join(n.strip() for n in spec.team_unreached)}"
        )
    if not spec.remote:
        lines.append(f"地点：{spec.exact_place.strip()}")
    lines.append(f"联系人：{(spec.contact_name or '求助人').strip()} {spec.contact_phone.strip()}")
    if spec.note:
        lines.append(f"说明：{spec.note.strip()}")
    if spec.remote and spec.has_phone:
        lines.append("请尽快致电求助人，电话指导，无需前往。联系方式仅用于本次帮助，请勿转发。")
    elif spec.remote:  # no phone: a call nobody could make
        lines.append(REMOTE_IN_GROUP if spec.in_group else REMOTE_VIA_STAFF)
    else:
        lines.append("请尽快前往。联系方式仅用于本次帮助，请勿转发。")
    if spec.status_url:
        lines.append(f"我在路上 / 去不了了 / 已完成，请点：{checked_link(spec.status_url)}")
    lines += _safety_line(spec.urgency, spec.category, spec.told)
    if not spec.remote:
        title = "接单成功，请尽快前往"
    elif spec.has_phone:
        title = "接单成功，请尽快致电"
    else:
        title = "接单成功，请在群内联系" if spec.in_group else "接单成功，请联系社区工作人员"
    return PushMessage(title=title, text="\n".join(lines))


class CancelReason(StrEnum):
    REQUESTER_CANCELLED = "requester_cancelled"
    STAFF_CANCELLED = "staff_cancelled"  # the community's staff cancelled it
    CANCELLED = "cancelled"  # cancelled, by whom not known (the request no longer held)
    RESOLVED = "resolved"
    REFERRED = "referred"  # handed to 120/110/119 (and a referral whose target is not known)
    REFERRED_PROPERTY = "referred_property"  # handed to 物业
    REFERRED_DEPARTMENT = "referred_department"  # handed to a department (街道, 城管…)
    EXPIRED = "expired"


CANCEL_REASON_ZH: dict[CancelReason, str] = {
    CancelReason.REQUESTER_CANCELLED: "求助人已取消",
    CancelReason.STAFF_CANCELLED: "社区已取消",
    CancelReason.CANCELLED: "",  # no reason given rather than a wrong one
    CancelReason.RESOLVED: "问题已解决",
    CancelReason.REFERRED: "已转交专业救援处理",
    CancelReason.REFERRED_PROPERTY: "已转交物业处理",
    CancelReason.REFERRED_DEPARTMENT: "已转交相关部门处理",
    CancelReason.EXPIRED: "求助已过期",
}


@dataclass(frozen=True, slots=True)
class CancellationSpec:
    category: Category
    building: str | None
    reason: CancelReason
    compound: str | None = None


def render_cancellation(spec: CancellationSpec) -> PushMessage:
    place = place_label(spec.compound, spec.building)
    why = CANCEL_REASON_ZH[spec.reason]
    text = (
        f"求助已取消：{place} {entry(spec.category).zh}"
        f"{f'（{why}）' if why else ''}，无需前往。谢谢您！"
    )
    return PushMessage(title="求助已取消", text=text)


RELEASED_TITLE = "您已无需前往"


@dataclass(frozen=True, slots=True)
class ReleasedNoticeSpec:
    """To a helper staff released as not coming (a no-show): they no longer hold the
    request, so one still on the way does not arrive to find it given to someone else.
    `kept`: the request is with 120/110/119 (nobody else is asked)."""

    category: Category
    building: str | None
    compound: str | None = None
    kept: bool = False


def render_released_notice(spec: ReleasedNoticeSpec) -> PushMessage:
    place = place_label(spec.compound, spec.building)
    what = f"{place} {entry(spec.category).zh}"
    # No blame in it: it may reach a group robot (an @-mention), as a stand-down does.
    # The slot reopens and the ladder asks again: nobody holds it yet when this is sent.
    after = "求助已转交专业救援" if spec.kept else "社区将另找邻居接手"
    text = (
        f"{RELEASED_TITLE}：{what}的求助，{after}，您无需再前往。"
        "如您其实已在现场或正在赶来，请联系社区工作人员。谢谢您！"
    )
    return PushMessage(title=RELEASED_TITLE, text=text)


# Who closed a resolved request, as a helper still on the way is told.
RESOLVED_BY_ZH: dict[str, str] = {
    "requester": "求助人已确认",
    "staff": "社区已确认",
    "helper": "邻居已确认",
}


RESOLVED_NOTICE_ASK = (
    "如您已在现场帮忙，请在接单消息的页面点“已完成”，记录服务时长；尚未出发则无需前往。谢谢您！"
)


@dataclass(frozen=True, slots=True)
class ResolvedNoticeSpec:
    """To a helper assigned and not yet done when the request closed as resolved: their
    assignment stands (a "done" still counts their time), so this is no stand-down.
    `by`: the closing party's wire value ("system": closed at the request's lifetime's end)."""

    category: Category
    building: str | None
    by: str
    compound: str | None = None


def render_resolved_notice(spec: ResolvedNoticeSpec) -> PushMessage:
    place = place_label(spec.compound, spec.building)
    what = f"{place} {entry(spec.category).zh}"
    if spec.by == "system":
        title, head = "求助已结束", f"求助已结束：{what}（已到求助时限）。"
    else:
        who = RESOLVED_BY_ZH.get(spec.by)
        title, head = "求助已解决", f"求助已解决：{what}{f'（{who}）' if who else ''}。"
    text = head + RESOLVED_NOTICE_ASK
    return PushMessage(title=title, text=text)


# Where a staff referral that keeps the helpers handed the request (`ReferralTarget`
# values): an emergency service only (core `ladder.keeps_assigned`).
REFERRED_TO_ZH: dict[str, str] = {"120": "120急救", "110": "110", "119": "119"}


REFERRED_NOTICE_ASK = (
    "专业人员赶到前，如您能前往，请继续前往协助；到场帮忙后请在接单消息的页面点“已完成”。谢谢您！"
)


@dataclass(frozen=True, slots=True)
class ReferredNoticeSpec:
    """To a helper assigned and not yet done when staff referred the request to
    120/110/119: the core keeps their assignment (someone who has fallen is not left alone
    until the ambulance comes), so this is no stand-down. `to`: the referral's wire value
    ("120", "110", "119")."""

    category: Category
    building: str | None
    to: str
    compound: str | None = None


def render_referred_notice(spec: ReferredNoticeSpec) -> PushMessage:
    place = place_label(spec.compound, spec.building)
    to = REFERRED_TO_ZH.get(spec.to, spec.to)
    text = f"求助已转交{to}：{place} {entry(spec.category).zh}。" + REFERRED_NOTICE_ASK
    return PushMessage(title=f"求助已转交{to}", text=text)


@dataclass(frozen=True, slots=True)
class WhistleSpec:
    """The whistle ("小区吹哨"): nobody answered; tell the community group and staff."""

    category: Category
    urgency: Urgency
    building: str | None
    waiting_minutes: int
    helpers_missing: int
    claim_url: str
    compound: str | None = None
    report_url: str | None = None  # this recipient's "报到" link
    called_as: str | None = None  # e.g. 网格员, 物业: who this message calls
    told: Told = BY_KIND  # the request's own say on whom to call


@dataclass(frozen=True)
class ReferralSpec:
    """The ladder's last rung: nobody could come in time; a person must hand it on now."""

    category: Category
    urgency: Urgency
    building: str | None
    refer_to: str  # 120, 110, 119, property
    claim_url: str
    compound: str | None = None
    # The community's configured numbers ("社区值班 0592-…"), after 120/110/119, never instead.
    hotlines: tuple[str, ...] = ()
    told: Told = BY_KIND  # the request's own say on whom to call


def render_referral(spec: ReferralSpec) -> PushMessage:
    to = f"{spec.refer_to}" if spec.refer_to[:1].isdigit() else "物业"
    lines = [
        "【需转介】" + _headline(spec.urgency, spec.category, spec.compound, spec.building),
        f"暂无邻居能及时赶到，请立即转{to}处理，并在看板上登记。",
        f"接手：{checked_link(spec.claim_url)}",
    ]
    if spec.hotlines:
        lines.append("社区电话：" + "、".join(spec.hotlines))
    lines += _safety_line(spec.urgency, spec.category, spec.told)
    return PushMessage(title=f"需转介：{entry(spec.category).zh}", text="\n".join(lines))


def render_whistle(spec: WhistleSpec) -> PushMessage:
    lines = [
        "【吹哨】" + _headline(spec.urgency, spec.category, spec.compound, spec.building),
        f"已等待{max(0, spec.waiting_minutes)}分钟，还需{max(1, spec.helpers_missing)}位邻居。",
        f"请{spec.called_as}协助。" if spec.called_as else "请值班人员和附近邻居协助。",
        f"认领：{checked_link(spec.claim_url)}",
    ]
    if spec.report_url:
        lines.append(f"报到：{checked_link(spec.report_url)}")
    lines += _safety_line(spec.urgency, spec.category, spec.told)
    title = f"吹哨：{entry(spec.category).zh}无人响应"
    return PushMessage(title=title, text="\n".join(lines))
