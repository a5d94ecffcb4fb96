"""A helper's personal link: away / busy / back / on call tonight (SetHelperStatus), their
own quiet hours (SetDoNotDisturb), and the help they offer and how to reach them
(SetHelperOffer). The welcome message brings this link (dispatcher/push/helper_texts.py).

GET shows the choices; each button POSTs to `/l/h/{token}/{status}`. The link is reusable
(it sets a state, so repeating it changes nothing), on the one browser it is bound to: the
first that opens it or presses a button (dispatcher/api/offer_binding.py `check_personal`);
forwarded to another phone it is refused there, and that phone is not made the helper's.
SetHelperStatus replaces away, busy and the do-not-disturb override together: each button
names the whole state.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from html import escape as e
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from dispatcher.api.auth import behind_tls
from dispatcher.api.command_queue import send_command
from dispatcher.api.deps import ApiDeps
from dispatcher.api.offer_binding import Binding, Step, check_personal, remember_personal
from dispatcher.api.pages import button_form, link_error, page
from dispatcher.core.community import DEFAULT_ZONE
from dispatcher.links import (
    ANSWER_PATH,
    DEVICE_COOKIE,
    DEVICE_LIFETIME,
    HELPER_PATH,
    LinkClaims,
    LinkError,
    LinkExpired,
    device_binding,
    verify_token,
)
from dispatcher.push.messages import SKILL_ZH
from dispatcher.push.places import place_label
from dispatcher.record.read import helpers as read_helpers
from dispatcher.record.read.assignments import PresenceHeld, presence_held
from dispatcher.settings import Settings
from schemas.commands import SetDoNotDisturb, SetHelperOffer, SetHelperStatus
from schemas.helpers import TimeWindow
from schemas.vocab import Skill

router = APIRouter(prefix=HELPER_PATH.rstrip("/"), tags=["volunteer links"])
Token = Path(min_length=1, max_length=1024, description="A signed personal helper token")
# 今晚值守 lasts until local noon after the night it means: the night in progress if pressed
# before 06:00, else the coming one (pressed at 09:00 it covers 23:00; it lasted 12 h from
# the press, so 09:00's ended at 21:00). The API does not know the helper's own quiet
# hours (only the worker does), so the end is this fixed local noon, said on the page.
ON_CALL_NIGHT_STARTS = timedelta(hours=6)  # before 06:00 local: still tonight's night
ON_CALL_ENDS = time(12, 0)
# What `<input type="time">` sends: HH:MM, ASCII digits, no offset (a local clock time).
CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class HelperStatus(StrEnum):
    AWAY = "away"  # 外出: no offers until back
    BUSY = "busy"  # 忙碌: do not disturb for now
    BACK = "back"  # 恢复接单
    ON_CALL = "on_call"  # 今晚值守: wake me outside my hours and in my quiet hours (to noon)


_LABELS = {
    HelperStatus.AWAY: ("我外出了，暂停接单", "已暂停：在您点“恢复接单”之前不会再收到邀请。"),
    HelperStatus.BUSY: ("忙碌中，暂勿打扰", "已设为忙碌：在您点“恢复接单”之前不会再收到邀请。"),
    HelperStatus.BACK: ("我回来了，恢复接单", "已恢复：附近有人求助时会通知您。"),
    HelperStatus.ON_CALL: (
        "今晚值守：可服务时间以外、免打扰时段也可叫醒我（到中午12点）",
        "已设为值守：{until}之前，免打扰时段也会通知您，可服务时间以外也会。",
    ),
}
HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A page in Chinese"}
}


# The personal page's channel choice that leaves the recorded one as it is (the API has no
# read model of it: ticking a skill must not also move the helper to the default channel).
KEEP_CHANNEL = "keep"


def private_channels(settings: Settings) -> list[str]:
    """The endpoints a helper may choose: private ones only (a group robot is nobody's own:
    their personal link and contact details would reach the whole group)."""
    return [f"{c.kind.value}:{c.name}" for c in settings.push_endpoints if not c.is_group]


def live_private_channels(deps: ApiDeps, community_id: str) -> list[str]:
    """As `private_channels`, from the live registry (endpoints added through the config
    API included) and only those the community may use: its own or district-wide ones (the
    planner sends a community's messages to nothing else)."""
    return [
        f"{c.kind.value}:{c.name}"
        for c in deps.config.endpoints
        if not c.is_group and deps.config.endpoint_owner(c.name) in (None, community_id)
    ]


def offer_choices(settings: Settings, channels: list[str] | None = None, keep: bool = False) -> str:
    """Form fields: the skills offered (checkboxes `skills`), how to be reached (`channel`,
    from `channels`, else the settings' endpoints). `keep`: the helper's own page, whose
    first, ticked choice leaves the channel as recorded."""
    skills = "".join(
        f'<label><input type="checkbox" name="skills" value="{s.value}"> {e(label)}</label><br>'
        for s, label in SKILL_ZH.items()
    )
    reach = (
        f'<label><input type="radio" name="channel" value="{KEEP_CHANNEL}" checked>'
        " 保持现在的联系方式</label><br>"
        if keep
        else ""
    )
    default = "" if keep else " checked"
    reach += (
        f'<label><input type="radio" name="channel" value=""{default}> 社区默认方式</label><br>'
    )
    reach += "".join(
        f'<label><input type="radio" name="channel" value="{e(c)}"> {e(c)}</label><br>'
        for c in (private_channels(settings) if channels is None else channels)
    )
    # The page does not know the skills recorded (no read model holds them): it says that
    # saving replaces them, rather than show boxes as if they were the record.
    replaces = "（保存后，您登记的帮助将换成这里勾选的各项）" if keep else ""
    return f"<p>我能提供的帮助{replaces}：</p><p>{skills}</p><p>希望的联系方式：</p><p>{reach}</p>"


def chosen_offer(
    settings: Settings, form: Any, channels: list[str] | None = None, keep: bool = False
) -> tuple[tuple[Skill, ...], str | None] | str:
    """(skills, channel or None for the default) from a submitted form, or what is wrong;
    the channel one of `channels` (else the settings' endpoints), or `KEEP_CHANNEL` where
    the form offered it (`keep`)."""
    wanted = {str(v) for v in form.getlist("skills")}
    channel = str(form.get("channel", "")) or None
    allowed = private_channels(settings) if channels is None else channels
    allowed = [KEEP_CHANNEL, *allowed] if keep else allowed
    if channel is not None and channel not in allowed:
        return "请选择列出的联系方式。"
    return tuple(s for s in Skill if s.value in wanted), channel


def on_call_until(now: datetime, zone: tzinfo) -> datetime:
    """When 今晚值守 pressed at `now` ends (UTC): the community's first local noon at least
    6 h after the press (the night in progress before 06:00, else the coming night)."""
    local = (now + ON_CALL_NIGHT_STARTS).astimezone(zone)
    day = local.date() if local.time() < ON_CALL_ENDS else local.date() + timedelta(days=1)
    return datetime.combine(day, ON_CALL_ENDS, tzinfo=zone).astimezone(UTC)


def _community_zone(deps: ApiDeps, community_id: str) -> tzinfo:
    """The zone the core reads the helper's windows in (core/community.py, `LocalClock`)."""
    community = deps.config.community(community_id)
    return DEFAULT_ZONE if community is None else ZoneInfo(community.time_zone)


def _local_day_and_time(at: datetime, now: datetime, zone: tzinfo) -> str:
    """'明天12:00' (today, tomorrow, else the date) on the community's clock."""
    local = at.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    day = {0: "今天", 1: "明天"}.get(days, f"{local:%m月%d日}")
    return f"{day}{local:%H:%M}"


def held_note(held: list[PresenceHeld], now: datetime, zone: tzinfo) -> str:
    """What the page says while an in-person assignment holds the helper
    (`dispatcher/core/presence.py`): they are asked to go to another request only if it is
    more urgent (none, while the held one is critical), phone help not affected, until the
    hold's end at the latest. The building only, as every offer shows it: never the flat
    or the requester's phone (this page has no business with either)."""
    notes = []
    for h in held:
        # The stored label as offers show it: one stored before the cut ("综合楼五楼") is
        # cut here too (`place_label`), never shown whole.
        where = f"（{place_label(None, h.building_label)}）" if h.building_label else ""
        until = _local_day_and_time(h.until, now, zone)
        scope = "我们不会再请您前往其他求助" if h.critical else "只有更紧急的求助才会请您前往"
        notes.append(
            f'<p class="note">您正在帮助一位邻居{e(where)}。在此期间（最晚到{e(until)}），'
            f"{scope}，需要电话指导的求助不受影响。完成后请在接单页面点“已完成”。</p>"
        )
    return "".join(notes)


def off_the_roster_page() -> HTMLResponse:
    return page(
        "链接已失效",
        "<p>您已不在志愿者名单中，如有疑问请联系社区。</p>",
        tone="warn",
        status_code=410,
    )


def expired_page() -> HTMLResponse:
    """The personal link a year after it was sent (not an offer's "无需再操作": nothing
    was set, and the helper needs a new link to set anything)."""
    return page(
        "个人链接已过期",
        "<p>个人链接已过期，请联系社区工作人员重新发送。</p>",
        tone="warn",
        status_code=410,
    )


async def _verify(request: Request, token: str) -> LinkClaims | HTMLResponse:
    """The link's claims, or the page to answer. The link expires a year after it was
    sent (links.HELPER_LINK_LIFETIME: `expired_page`); until then the roster decides: a
    helper staff deactivated (or one the ledger left out, e.g. under a new id) is told so,
    and their phone is not bound. A helper the worker has not recorded yet passes (the core
    refuses an unknown one)."""
    deps: ApiDeps = request.app.state.deps
    try:
        claims = verify_token(deps.settings, token, deps.clock())
    except LinkExpired:
        return expired_page()
    except LinkError as exc:
        return link_error(exc.reason)
    if claims.kind != "helper":
        return link_error("tampered")
    active = await read_helpers.is_active(await deps.pool(), claims.community_id, claims.helper_id)
    return off_the_roster_page() if active is False else claims


@router.get("/{token}", response_class=HTMLResponse, responses=HTML)
async def helper_page(request: Request, token: str = Token) -> HTMLResponse:
    """The choices; opening the link changes nothing but binds this browser if it is the
    first to open it (a link preview is shown the page, unbound)."""
    found = await _bound_link(request, token, "open")
    if isinstance(found, HTMLResponse):
        return found
    checked, binding = found
    deps: ApiDeps = request.app.state.deps
    base = request.url.path.rstrip("/")
    buttons = "".join(
        button_form(f"{base}/{s.value}", label, second=s is not HelperStatus.BACK)
        for s, (label, _) in _LABELS.items()
    )
    quiet = (
        f'<form method="post" action="{e(base)}/quiet-hours">'
        "<p>免打扰时段（危急求助仍会通知您）：</p>"
        '<p><input type="time" name="start" value="22:00" required> 至 '
        '<input type="time" name="end" value="07:00" required></p>'
        '<button type="submit" class="second">设置免打扰时段</button></form>'
        + button_form(f"{base}/quiet-hours/clear", "取消免打扰时段", second=True)
    )
    offer = (
        f'<form method="post" action="{e(base)}/offer">'
        + offer_choices(deps.settings, live_private_channels(deps, checked.community_id), keep=True)
        + '<button type="submit" class="second">保存我能提供的帮助</button></form>'
    )
    bound = (
        f'<p class="note">这部手机已绑定：群里的求助可在 <a href="{ANSWER_PATH}">我的邀请</a>'
        " 中回复。此链接仅限本人在这部手机上使用，请勿转发。</p>"
    )
    held = ""
    if not binding.preview:  # a link preview is shown the choices only
        now = deps.clock()
        holds = await presence_held(await deps.pool(), checked.community_id, checked.helper_id, now)
        held = held_note(holds, now, _community_zone(deps, checked.community_id))
    answer = page(
        "我的接单状态",
        held + "<p>请选择：</p>" + buttons + quiet + offer + ("" if binding.preview else bound),
    )
    return _bound(request, deps, checked, binding, answer)


def _bound(
    request: Request, deps: ApiDeps, claims: LinkClaims, binding: Binding, answer: HTMLResponse
) -> HTMLResponse:
    """`answer` from the bound browser: it keeps (or gets) the link's binding cookie and
    the cookie that says this phone is the helper (group messages carry no per-helper link,
    it says who answers on `/l/me`). A preview gets neither."""
    if binding.preview:
        return answer
    remember_personal(request, binding, claims, answer)
    answer.set_cookie(
        DEVICE_COOKIE,
        device_binding(deps.settings, claims.helper_id, claims.community_id, deps.clock()),
        max_age=int(DEVICE_LIFETIME.total_seconds()),
        path="/l/",
        httponly=True,
        samesite="strict",
        secure=behind_tls(request),
    )
    return answer


def _clock_time(text: str) -> time | None:
    hh_mm = CLOCK_TIME.fullmatch(text.strip())
    return time(int(hh_mm[1]), int(hh_mm[2])) if hh_mm else None


async def _helper_or_page(
    request: Request, token: str
) -> tuple[LinkClaims, Binding] | HTMLResponse:
    """Verify the personal link, let only the bound browser press (the first to press
    binds, if none opened it), and apply the per-helper rate limit to it: a forwarded link
    pressed elsewhere draws on its refusals' own bucket, not on the helper's."""
    found = await _bound_link(request, token, "act")
    if isinstance(found, HTMLResponse):
        return found
    deps: ApiDeps = request.app.state.deps
    deps.limiter.check(("helper-status", found[0].helper_id), 10, 5, "helper")
    return found


async def _bound_link(
    request: Request, token: str, step: Step
) -> tuple[LinkClaims, Binding] | HTMLResponse:
    """The personal link's claims and this browser's binding for `step` (opening the page
    or pressing a button), or the page refusing it (a bad link, another phone)."""
    checked = await _verify(request, token)
    if isinstance(checked, HTMLResponse):
        return checked
    binding = await check_personal(request, request.app.state.deps, checked, step)
    if binding.refusal is not None:
        return binding.refusal
    return checked, binding


async def _quiet_hours(request: Request, claims: LinkClaims, window: TimeWindow | None) -> None:
    body = SetDoNotDisturb(helper_id=claims.helper_id, window=window)
    await send_command(request.app.state.deps, body, claims.community_id)


@router.post("/{token}/quiet-hours", response_class=HTMLResponse, responses=HTML)
async def set_quiet_hours(request: Request, token: str = Token) -> HTMLResponse:
    """Set the helper's own do-not-disturb hours (form fields `start`, `end`, HH:MM)."""
    checked = await _helper_or_page(request, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claims, binding = checked
    form = await request.form()
    start, end = _clock_time(str(form.get("start", ""))), _clock_time(str(form.get("end", "")))
    if start is None or end is None:
        answer = page(
            "时间格式不对",
            "<p>请用 时:分 填写，例如 22:00 和 07:00。</p>",
            tone="warn",
            status_code=422,
        )
    elif start == end:
        # The core reads an empty window as all day (TimeWindow.contains), the community's
        # quiet hours as none: neither is what "22:00 至 22:00" says. Refused.
        clear = request.url.path.rstrip("/") + "/clear"
        answer = page(
            "开始和结束时间相同",
            f"<p>免打扰时段的开始和结束时间不能相同（您填的是 {start:%H:%M} 至 {end:%H:%M}）。"
            "请返回重新填写，例如 22:00 至 07:00。</p>"
            "<p>如果不需要免打扰时段，请点下面的“取消免打扰时段”。</p>"
            + button_form(clear, "取消免打扰时段", second=True),
            tone="warn",
            status_code=422,
        )
    else:
        await _quiet_hours(request, claims, TimeWindow(start=start, end=end))
        answer = page("已更新", f"<p>免打扰时段：每天 {start:%H:%M} 至 {end:%H:%M}。</p>")
    return _bound(request, request.app.state.deps, claims, binding, answer)


@router.post("/{token}/quiet-hours/clear", response_class=HTMLResponse, responses=HTML)
async def clear_quiet_hours(request: Request, token: str = Token) -> HTMLResponse:
    checked = await _helper_or_page(request, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claims, binding = checked
    await _quiet_hours(request, claims, None)
    answer = page("已更新", "<p>已取消免打扰时段：有人求助时随时通知您。</p>")
    return _bound(request, request.app.state.deps, claims, binding, answer)


@router.post("/{token}/offer", response_class=HTMLResponse, responses=HTML)
async def set_offer(request: Request, token: str = Token) -> HTMLResponse:
    """The skills the helper offers (at least one) and the channel they prefer."""
    checked = await _helper_or_page(request, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claims, binding = checked
    deps: ApiDeps = request.app.state.deps
    channels = live_private_channels(deps, claims.community_id)
    chosen = chosen_offer(deps.settings, await request.form(), channels, keep=True)
    if isinstance(chosen, str) or not chosen[0]:
        why = chosen if isinstance(chosen, str) else "请至少选择一项您能提供的帮助。"
        answer = page("请检查", f"<p>{e(why)}</p>", tone="warn", status_code=422)
    else:
        skills, channel = chosen
        # Left as shown, the channel stays as recorded (None); else the one chosen, () for
        # the community's default.
        reach = None if channel == KEEP_CHANNEL else (channel,) if channel else ()
        body = SetHelperOffer(helper_id=claims.helper_id, skills=skills, channels=reach)
        await send_command(deps, body, claims.community_id)
        labels = "、".join(SKILL_ZH[s] for s in skills)
        answer = page("已更新", f"<p>您能提供的帮助：{e(labels)}。</p>")
    return _bound(request, deps, claims, binding, answer)


@router.post("/{token}/{status}", response_class=HTMLResponse, responses=HTML)
async def set_status(request: Request, status: HelperStatus, token: str = Token) -> HTMLResponse:
    checked = await _helper_or_page(request, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claims, binding = checked
    deps: ApiDeps = request.app.state.deps
    now, zone = deps.clock(), _community_zone(deps, claims.community_id)
    until = on_call_until(now, zone) if status is HelperStatus.ON_CALL else None
    body = SetHelperStatus(
        helper_id=claims.helper_id,
        away=status is HelperStatus.AWAY,
        busy=status is HelperStatus.BUSY,
        dnd_override_until=until,
    )
    await send_command(deps, body, claims.community_id)
    said = _LABELS[status][1]
    if until is not None:
        said = said.format(until=_local_day_and_time(until, now, zone))
    return _bound(request, deps, claims, binding, page("已更新", f"<p>{e(said)}</p>"))
