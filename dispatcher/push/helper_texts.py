"""The helper's own messages: welcome, thank-you after "done", the monthly summary.

Pure renderers. Each goes to the helper's private channel only (PRIVATE_KINDS): the welcome
carries their personal link, which acts as them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.push.messages import checked_link
from dispatcher.push.model import PushMessage
from schemas.catalogue import entry
from schemas.vocab import Category


@dataclass(frozen=True, slots=True)
class WelcomeSpec:
    personal_url: str  # the helper's page: status, quiet hours, skills, how to reach them
    name: str | None = None
    hotlines: tuple[str, ...] = ()  # the community's numbers ("社区值班 0592-…")


def render_welcome(spec: WelcomeSpec) -> PushMessage:
    hello = f"{spec.name.strip()}，您好！" if spec.name and spec.name.strip() else "您好！"
    lines = [
        hello + "欢迎加入邻里互助。附近有邻居需要帮忙时，我们会在这里通知您。",
        f"您的个人页面（仅限本人，请勿转发）：{checked_link(spec.personal_url)}",
        "在这里可以：暂停或恢复接单、设置免打扰时段、选择您能提供的帮助和联系方式。",
        "遇到生命危险的情况，请先拨打120/110/119。",
    ]
    if spec.hotlines:  # besides 120/110/119, never instead
        lines.append("社区电话：" + "、".join(spec.hotlines))
    return PushMessage(title="欢迎加入邻里互助", text="\n".join(lines))


@dataclass(frozen=True, slots=True)
class ThankYouSpec:
    category: Category
    minutes: int


def _duration(minutes: int) -> str:
    hours, rest = divmod(max(0, minutes), 60)
    if hours and rest:
        return f"{hours}小时{rest}分钟"
    return f"{hours}小时" if hours else f"{rest}分钟"


def render_thank_you(spec: ThankYouSpec) -> PushMessage:
    text = (
        f"谢谢您！这次{entry(spec.category).zh}的帮忙已完成，"
        f"记录服务时长{_duration(spec.minutes)}。邻里有您，真好。"
    )
    return PushMessage(title="谢谢您的帮忙", text=text)


@dataclass(frozen=True, slots=True)
class SummarySpec:
    month: str  # "2026-11"
    requests_helped: int  # as the month report counts them (record/read/reports.py)
    minutes: int  # from 已完成 only


def render_summary(spec: SummarySpec) -> PushMessage:
    year, month = spec.month.split("-")
    when = f"{year}年{int(month)}月"
    if spec.requests_helped == 0:
        # Only what the record shows: one who accepted and then could not go, or was stood
        # down, did take a request (before session 40 this said 您没有接单 to them all).
        text = f"{when}没有您帮忙的记录。谢谢您一直在，邻居需要时我们会通知您。"
    elif spec.minutes > 0:
        text = (
            f"{when}您帮助了{spec.requests_helped}次邻居，"
            f"记录的服务时长共{_duration(spec.minutes)}。谢谢您！"
        )
    else:
        # Helped, but nobody pressed 已完成 (the requester or staff closed it): no minutes
        # were recorded, which is not "0分钟" of service.
        text = (
            f"{when}您帮助了{spec.requests_helped}次邻居。谢谢您！"
            "（帮忙后点“已完成”，可记录服务时长。）"
        )
    return PushMessage(title=f"{when}邻里互助小结", text=text)
