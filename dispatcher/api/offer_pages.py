"""Accept/decline links: GET shows a confirmation page (link scanners and chat previews
open links; opening never acts), POST acts once, then shows what the worker decided.

A press reads everything its command needs first, then claims the link with that command
(`api_link_uses`, the outbox) and sends it at once: any failure after the claim releases it
(503: press again; the command id is the link's own, so a command that did reach Kafka is
applied once). Should the API die between the claim and Kafka's ack, the use stays with its
command unacknowledged: the next press sends that very command again (a team leader's
members included) and so does the unrecorded sweeper when enabled. Only a use whose command
Kafka acknowledged is answered "received, confirming…" (202) while the worker decides.

A team leader's accept the core refused for one member (not in the team, assigned already,
declined, away or busy: `MEMBER_REFUSALS`) did nothing, so the link is reopened for the
leader to choose again; each such try is a command of its own (`_attempt`). Any other
outcome stays the link's one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs

import asyncpg
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from dispatcher.api import assignment_pages, offer_binding
from dispatcher.api import offer_outcomes as oo
from dispatcher.api.command_queue import send_json
from dispatcher.api.deps import ApiDeps
from dispatcher.api.pages import (
    URGENCY_ZH,
    button_form,
    e,
    facts,
    link_error,
    page,
)
from dispatcher.api.platform_login import gate
from dispatcher.api.view_cookie import may_see_contact, set_view_cookie
from dispatcher.links import (
    OFFER_PATH,
    LinkClaims,
    LinkError,
    verify_token,
)
from dispatcher.login_config import PlatformLoginConfig
from dispatcher.push.places import place_label
from dispatcher.record.edge import audit, link_uses
from dispatcher.record.read import assignments as read_assignments
from dispatcher.record.read import offers as read_offers
from dispatcher.record.read import requests as read_requests
from dispatcher.record.read import team_members as read_team
from dispatcher.record.read.requests import RequestSummary
from dispatcher.record.read.team_members import TeamMember
from dispatcher.sealing import Unreadable, keyring, open_stored
from schemas.catalogue import label_zh
from schemas.commands import AcceptOffer, Command, DeclineOffer
from schemas.requests import RequestPrivate

log = logging.getLogger(__name__)
router = APIRouter(prefix=OFFER_PATH.rstrip("/"), tags=["volunteer links"])
Token = Path(min_length=1, max_length=1024, description="A signed offer token")

HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A page in Chinese"}
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Tampered or malformed link"},
    410: {"description": "Expired link"},
}
BOUND: dict[int | str, dict[str, Any]] = {
    403: {"description": "Pressed on another device than the one the link is bound to"},
    409: {"description": "Opened on another device than the one the link is bound to"},
}


def _verify(request: Request, token: str) -> LinkClaims | HTMLResponse:
    deps: ApiDeps = request.app.state.deps
    try:
        claims = verify_token(deps.settings, token, deps.clock())
    except LinkError as exc:
        return link_error(exc.reason)
    if claims.kind == "helper":
        return link_error("tampered")
    return claims


def _use_of(claims: LinkClaims) -> oo.LinkUse:
    assert claims.request_id is not None and claims.offer_id is not None
    assert claims.kind != "helper"
    return oo.use_for(
        claims.kind, claims.request_id, claims.offer_id, claims.helper_id, claims.again
    )


def _summary_facts(summary: RequestSummary | None) -> str:
    """What every helper offered sees before accepting (and a link preview fetches): the
    place as the offer's push names it (`place_label`), never the stored label's flat."""
    if summary is None:
        return ""
    return facts(
        [
            ("求助类型", label_zh(summary.category)),
            ("紧急程度", URGENCY_ZH.get(summary.urgency, summary.urgency)),
            ("位置", place_label(None, summary.building_label)),
            ("需要人数", summary.helpers_needed),
        ]
    )


def _may_see(request: Request, deps: ApiDeps, use: oo.LinkUse) -> bool:
    return may_see_contact(request, deps, use.offer_id, use.helper_id)


# What a press's outcome is told: title, body, tone.
OUTCOME_TEXTS: dict[str, tuple[str, str, str]] = {
    "covered": ("已有邻居接手", "<p>已有邻居接下了这次求助。谢谢您的热心！</p>", "warn"),
    "declined": ("已记录", "<p>已记录您这次不方便前往。谢谢您的回复！</p>", "ok"),
    "closed": ("求助已结束", "<p>这次求助已经结束，无需前往。谢谢您！</p>", "warn"),
    "not_open": ("无需操作", "<p>这条邀请已不再需要回复。谢谢您！</p>", "warn"),
    "refused": ("无法处理", "<p>这条邀请无法处理，请联系社区工作人员。</p>", "bad"),
    # Holding an in-person request already (core/presence.py): the slot went to others.
    "helping_elsewhere": (
        "您正在帮助另一位邻居",
        "<p>谢谢您的热心！您已经接下了另一位邻居的求助，正在前往或陪伴中，"
        "这次就不占用名额了，我们会请其他邻居前往。"
        "请先完成那一次（按“已完成”），或者点“去不了了”把它交还，再接新的求助。</p>",
        "warn",
    ),
}
# An offer no longer waiting for its answer: stood down (the request filled), unanswered
# in time, or its push never delivered.
_NO_LONGER_SENT = frozenset({"stood_down", "expired", "failed"})


async def _covered(pool: asyncpg.Pool, use: oo.LinkUse, summary: RequestSummary | None) -> bool:
    """An unanswered offer the core no longer waits for, on an open request whose every
    slot is held by others: a press would be refused `covered`, so the link says so instead
    of inviting. Where a slot is free (a helper withdrew) the core still takes such a late
    answer (request_commands: "A late answer … still fills a free slot"): the link invites.
    Not for a helper assigned to the request otherwise (a member their leader signed up,
    whose own offer was stood down): others did not take it from them."""
    if summary is None or summary.helpers_assigned < summary.helpers_needed:
        return False
    if await read_offers.offer_status(pool, use.offer_id) not in _NO_LONGER_SENT:
        return False
    return use.helper_id not in await read_team.not_to_sign_up(pool, use.request_id)


async def _outcome_page(
    deps: ApiDeps,
    use: oo.LinkUse,
    outcome: str | None,
    *,
    may_see: bool,
    via: str,
    community_id: str,
    user: str | None,
) -> HTMLResponse:
    if outcome is None:
        return page(
            "已收到您的回复",
            "<p>正在确认，请稍候……页面会自动刷新。</p>",
            tone="warn",
            status_code=202,
            refresh_s=2,
        )
    if outcome == "assigned" and not may_see:
        # The link was forwarded, or opened on another device: no contact, no place.
        return page(
            "已有邻居接下",
            "<p>这次求助已由邻居接下。联系方式只显示在接下求助的那部手机上。</p>",
            tone="warn",
        )
    if outcome == "assigned":
        return await _assigned_page(deps, use, via, community_id, user)
    title, body, tone = OUTCOME_TEXTS.get(outcome, OUTCOME_TEXTS["refused"])
    return page(title, body, tone=tone)


async def _assigned_page(
    deps: ApiDeps, use: oo.LinkUse, via: str, community_id: str, user: str | None
) -> HTMLResponse:
    """The accepted helper's page: the contact (while the request is open) and the
    buttons - on my way, can't come after all, done (assignment_pages.py)."""
    pool = await deps.pool()
    progress = await read_assignments.progress(pool, use.request_id, use.helper_id, use.offer_id)
    kept = await assignment_pages.kept_on(pool, use.request_id, progress)

    def buttons(reach: assignment_pages.Reach | None = None) -> str:
        """`reach`: a remote helper's button names a call only if one was shown."""
        if progress is None:
            return ""
        token = assignment_pages.progress_token(deps, use, community_id, user)
        return assignment_pages.section(token, progress, kept=kept, reach=reach)

    details = await read_requests.private_details(pool, use.request_id, use.helper_id)
    if details is None:
        return page("谢谢您！", _no_longer_yours(progress) + buttons())
    await audit.contact_viewed(pool, use.request_id, use.offer_id, use.helper_id, via)
    place = details["place"]
    try:  # opened here, for the helper who accepted: the only page that shows it
        private = open_stored(
            keyring(deps.settings),
            use.request_id,
            details["contact"],
            details["text"],
            details["sealed"],
        )
    except Unreadable as exc:  # sealed under a retired key: the place and buttons still show
        log.warning("request %s: contact not shown (%s)", use.request_id, exc)
        private = RequestPrivate()
    contact, text = private.contact, private.text
    phone = contact.phone
    tel = f'<a class="tel" href="tel:{e(phone)}">拨打 {e(phone)}</a>' if phone else ""
    remote = progress is not None and progress.remote
    # Unit and floor are sealed with the contact since 12.7; on the place in rows from before.
    unit = private.unit or place.get("unit")
    floor = private.floor if private.floor is not None else place.get("floor")
    where = "".join(
        str(p)
        for p in (
            place.get("compound_name"),
            place.get("building_name") or place.get("building_id"),
            f"{unit}单元" if unit else None,
            f"{floor}层" if floor is not None else None,
        )
        if p
    )
    reach: assignment_pages.Reach | None = None
    if remote:  # guiding remotely, never told to come; no address needed. Asked to call
        # only with a phone to call: else in the group they asked in, as the group was
        # told, or, from no group, through the community's staff.
        reach = (
            "phone" if phone else await assignment_pages.reach_without_phone(pool, use.request_id)
        )
        lead = assignment_pages.remote_lead(reach)
        title = {
            "phone": "谢谢您！请尽快致电",
            "group": "谢谢您！请在群内联系",
            "staff": "谢谢您！请联系社区工作人员",
        }[reach]
        shown = [("求助人", contact.name), ("求助内容", text)]
    else:
        lead = "<p>您已接下这次求助，请尽快联系并前往。如情况危急，请先拨打120/110/119。</p>"
        shown = [
            ("求助人", contact.name),
            ("地址", contact.address),
            ("位置", where),
            ("求助内容", text),
        ]
        title = "谢谢您！请前往帮忙"
    body = lead + facts(shown) + tel + '<p class="note">联系方式仅供本次帮助使用，请勿转发。</p>'
    return page(title, body + buttons(reach))


# The accepted helper's page once the contact is not theirs (`private_details`), by why:
# "您已接下这次求助" would tell one who gave it back, or was marked absent, they still hold it.
RELEASED_TEXTS = {
    "withdrew": "<p>您已点过“去不了了”，这次求助不再由您负责。谢谢您告知！</p>",
    "no_show": (
        "<p>社区工作人员已登记您这次未能前往，这次求助不再由您负责，无需前往。"
        "如有疑问，请联系社区工作人员。</p>"
    ),
}
RELEASED_OTHERWISE = "<p>这次求助已有变化，不再需要您前往。谢谢您！</p>"
DONE_TEXT = "<p>您已完成这次帮助，无需再前往。感谢您为邻里付出！</p>"
ENDED_TEXT = "<p>您已接下这次求助。求助现已结束或有变化，无需前往。</p>"


def _no_longer_yours(progress: read_assignments.Progress | None) -> str:
    """Why the accepted helper sees no contact: released (withdrew, staff's no-show, stood
    down), done (已完成: even with another slot keeping the request open), or ended."""
    if progress is not None and progress.released_why is not None:
        return RELEASED_TEXTS.get(progress.released_why, RELEASED_OTHERWISE)
    if progress is not None and progress.done_at is not None:
        return DONE_TEXT
    return ENDED_TEXT


@router.get("/{token}", response_class=HTMLResponse, responses={**HTML, **ERRORS, **BOUND})
async def offer_page(request: Request, token: str = Token) -> Response:
    """Confirmation page. Opening the link never accepts or declines. A link for a helper
    with a platform login first sends the browser through that login (platform_login/);
    any other link is bound to the first browser that opens it (offer_binding.py)."""
    checked = _verify(request, token)
    if isinstance(checked, HTMLResponse):
        return checked
    deps: ApiDeps = request.app.state.deps
    login, instead = await gate.check(request, deps, checked, acting=False)
    if instead is not None:
        return instead
    binding = offer_binding.Binding()
    if login is None:
        binding = await offer_binding.check(request, deps, checked, "open")
        if binding.refusal is not None:
            return binding.refusal
    answer = await _confirmation(request, deps, checked, login)
    offer_binding.remember(request, binding, _use_of(checked).offer_id, answer)
    return answer


async def _held_page(
    request: Request,
    deps: ApiDeps,
    use: oo.LinkUse,
    community_id: str,
    *,
    identified: bool,
    user: str | None,
    status_code: int = 200,
) -> HTMLResponse | None:
    """A decline link ("来不了") of an offer this helper accepted and still holds (not done,
    the request open): the core would refuse the decline (`offer_not_open`), so nobody else
    would be asked and "no action needed" would be false. Say that they hold it, with the
    assignment's own buttons (its 去不了了 is `WithdrawHelper`) on the phone that may press
    them (platform login or the accepting phone's view cookie, as the buttons themselves
    check); elsewhere, where the buttons would be refused, where to find them. No contact
    here: it stays on the accept link's page. None for anything else (the usual pages).

    A press of the decline form is not turned into a withdrawal: that form was shown while
    the offer was open (a tab opened before accepting; opened now, the link shows this
    page), its promise was about an invitation, not a held request, and a withdrawal leaves
    the requester without the helper they were told is coming. One more tap, on the
    button that says what it does, keeps a stale or mistaken press harmless.

    Also on a request referred to 120/110/119 that kept them (`assignment_pages.kept_on`):
    they were told to go on if they can, so "求助已结束，无需前往" would be false too, and
    their 去不了了 is what staff need to hear (nobody else is asked then)."""
    if use.action != "decline":
        return None
    pool = await deps.pool()
    progress = await read_assignments.progress(pool, use.request_id, use.helper_id, use.offer_id)
    if progress is None or not progress.held or progress.done_at is not None:
        return None
    kept = await assignment_pages.kept_on(pool, use.request_id, progress)
    if progress.request_closed and not kept:
        return None
    if identified or _may_see(request, deps, use):
        accepted = oo.use_for("accept", use.request_id, use.offer_id, use.helper_id)
        token = assignment_pages.progress_token(deps, accepted, community_id, user)
        then = "社区工作人员会看到（求助已转交专业救援）" if kept else assignment_pages.WILL_SEE
        buttons = assignment_pages.section(token, progress, kept=kept)
        more = f"<p>如果去不了了，请点下面的“去不了了”，{then}。</p>" + buttons
    else:
        more = "<p>如果去不了了，请在接单的那部手机上打开接单消息中的“能来”链接，点“去不了了”。</p>"
    return page(
        "您已接下这次求助",
        "<p>您已接下这次求助，求助人正在等您。点“来不了”不会取消您的接单。</p>" + more,
        tone="warn",
        status_code=status_code,
    )


REMOTE_ASK = "<p>有邻居需要电话指导。确认后，您会看到求助人的联系方式，请电话指导，无需前往。</p>"


async def _confirmation(
    request: Request, deps: ApiDeps, checked: LinkClaims, login: PlatformLoginConfig | None
) -> HTMLResponse:
    held = await _held_page(
        request,
        deps,
        _use_of(checked),
        checked.community_id,
        identified=login is not None,
        user=checked.platform_user_id,
    )
    if held is not None:
        return held
    pool = await deps.pool()
    use = await oo.recorded_use(pool, checked.use_key)
    if await _free_again(deps, pool, use, checked.community_id):
        use = None  # refused while busy elsewhere, free now: the link invites again
    if use is not None:  # already answered: show what happened (reading only)
        return await answered_page(
            request,
            use,
            checked.community_id,
            identified=login is not None,
            user=checked.platform_user_id,
            press_at=request.url.path,
        )
    summary = await read_requests.summary(pool, _use_of(checked).request_id)
    if summary is not None and summary.closed_at is not None:
        return page("求助已结束", "<p>这次求助已经结束，无需前往。谢谢您！</p>", tone="warn")
    if await _covered(pool, _use_of(checked), summary):
        title, body, tone = OUTCOME_TEXTS["covered"]
        return page(title, body, tone=tone)
    action = request.url.path
    if checked.kind == "accept":
        use = _use_of(checked)
        leader = await read_team.signed_up_by(pool, use.request_id, use.helper_id, use.offer_id)
        if leader is not None:  # a member their leader signed up: confirm, then see it
            body = (
                f"<p>您的队长{e(leader)}为您报名了这次求助。确认后，您会看到求助人的联系方式"
                "和具体位置，以及“我在路上 / 去不了了 / 已完成”按钮。</p>"
                + _summary_facts(summary)
                + button_form(action, "确认，查看详情")
            )
            return page("队长为您报了名", body)
        team = await read_offers.team_of(pool, use.offer_id)
        members = (
            await read_team.active_members(pool, checked.community_id, team[0]) if team else []
        )
        out = await read_team.not_to_sign_up(pool, use.request_id) if members else set()
        # A phone need (the offer's `remote`) is asked of the whole community: the helper
        # is asked to call, never to come (nor shown a place to go to).
        remote = await read_offers.is_remote(pool, use.offer_id)
        lead, yes = (
            (REMOTE_ASK, "我可以电话帮忙")
            if remote
            else (
                "<p>附近邻居需要帮助。确认前往后，您会看到求助人的联系方式和具体位置。</p>",
                "我可以去帮忙",
            )
        )
        body = (
            lead
            + _summary_facts(summary)
            + (
                team_form(action, team, summary, members, use.helper_id, out)
                if team
                else button_form(action, yes)
            )
        )
        return page("邻里求助", body)
    remote = await read_offers.is_remote(pool, _use_of(checked).offer_id)
    lead, no = (
        ("<p>确认这次不方便电话帮忙吗？我们会继续为求助人寻找帮助。</p>", "这次帮不了")
        if remote
        else ("<p>确认这次不方便前往吗？我们会继续为求助人寻找帮助。</p>", "这次去不了")
    )
    body = lead + _summary_facts(summary) + button_form(action, no, second=True)
    return page("邻里求助", body, tone="warn")


async def answered_page(
    request: Request,
    use: oo.LinkUse,
    community_id: str,
    *,
    identified: bool,
    user: str | None,
    press_at: str,
) -> HTMLResponse:
    """What became of a recorded answer, reading only: the link's page opened again, and
    the answer page's (`/l/me`) press address opened again (its "confirming" page's
    refresh, the address bar). `press_at`: where a press cut off before Kafka's ack is
    sent again. The contact only to the helper's own login (`identified`) or the
    accepting device's cookie."""
    deps: ApiDeps = request.app.state.deps
    pool = await deps.pool()
    outcome = await oo.settle(pool, use, timeout=0)
    if outcome == "refused" and (
        again := await _member_refused(pool, use, request.url.path, community_id)
    ):
        return again
    if outcome is None and not use.queued:  # cut off before Kafka's ack: press again
        return page(
            "回复尚未送达",
            "<p>您上次的回复没有送达，请再点一次。</p>" + button_form(press_at, "再次提交"),
            tone="warn",
        )
    return await _outcome_page(
        deps,
        use,
        outcome,
        may_see=identified or _may_see(request, deps, use),
        via="revisit",
        community_id=community_id,
        user=user,
    )


@router.post("/{token}", response_class=HTMLResponse, responses={**HTML, **ERRORS, **BOUND})
async def offer_act(request: Request, token: str = Token) -> Response:
    """Accept or decline, once per link; a repeat shows the recorded outcome. Without a
    platform login, only on the browser the link is bound to (the first to open it)."""
    checked = _verify(request, token)
    if isinstance(checked, HTMLResponse):
        return checked
    deps: ApiDeps = request.app.state.deps
    login, instead = await gate.check(request, deps, checked, acting=True)
    if instead is not None:
        return instead
    binding = offer_binding.Binding()
    if login is None:
        binding = await offer_binding.check(request, deps, checked, "act")
        if binding.refusal is not None:
            return binding.refusal
    team = await _team_choice(request)
    answer = (
        await act_on_offer(
            request,
            _use_of(checked),
            checked.community_id,
            identified=login is not None,
            platform_user_id=checked.platform_user_id,
            team=team,
        )
        if isinstance(team, TeamChoice)
        else team
    )
    offer_binding.remember(request, binding, _use_of(checked).offer_id, answer)
    return answer


def team_form(
    action: str,
    team: tuple[str, int],
    summary: RequestSummary | None,
    members: list[TeamMember],
    leader_id: str,
    out: Collection[str] = (),
) -> str:
    """A team offer: the leader ticks who goes with them (the team's active members,
    the first ones by the ledger's order ticked, as many as the request still needs);
    each ticked member gets an assignment of their own. Members `out` (assigned to the
    request or declined it) and those away or busy are not listed: the core would refuse
    the whole accept."""
    name, size = team
    open_slots = (
        max(1, summary.helpers_needed - summary.helpers_assigned) if summary is not None else 1
    )
    others = [m for m in members if m.helper_id != leader_id]
    if not others:  # nobody known to the read model yet (helpers from before 0300): a count
        return (
            f'<form method="post" action="{e(action)}"><p>您是{e(name)}的负责人（共{size}人）。</p>'
            f'<label>这次去几位（含您自己）<input name="members" type="number" min="1" '
            f'max="{size}" value="{min(size, open_slots)}"></label>'
            '<button type="submit">我们队可以去帮忙</button></form>'
        )
    free = [m for m in others if m.available and m.helper_id not in out]
    boxes = (
        "".join(
            f'<label><input type="checkbox" name="member" value="{e(m.helper_id)}"'
            f"{' checked' if k < open_slots - 1 else ''}> {e(m.name or m.helper_id)}</label>"
            for k, m in enumerate(free)
        )
        or "<p>其他队员这次都已接下、已婉拒或暂时不便，您可以自己去。</p>"
    )
    return (
        f'<form method="post" action="{e(action)}"><p>您是{e(name)}的负责人（共{size}人）。'
        f"这次还需要{open_slots}位（含您自己）。请勾选和您同去的队员，"
        "他们会各自收到通知和自己的链接。</p>"
        f'<input type="hidden" name="named" value="1">{boxes}'
        '<button type="submit">我们队可以去帮忙</button></form>'
    )


@dataclass(frozen=True, slots=True)
class TeamChoice:
    """What the team form sent: how many go, and who besides the leader (when named)."""

    members: int = 1
    member_ids: tuple[str, ...] = ()


MAX_COUNT_DIGITS = 4  # a count field longer than this is no count (50 at most is used)


async def _team_choice(request: Request) -> TeamChoice | HTMLResponse:
    """The form's ticked `member`s (named: each their own assignment); a form from before
    names sends only `members` (1..50: the leader holds them all); absent: the leader. A
    count that is not a short number of ASCII digits is refused (422), acting on nothing."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    if form.get("named"):
        ids = tuple(dict.fromkeys(m for m in form.get("member", []) if 0 < len(m) <= 128))[:49]
        return TeamChoice(1 + len(ids), ids)
    raw = form.get("members", [""])[0].strip()
    if not raw:
        return TeamChoice()
    # ASCII only: str.isdigit() also takes "²" and other digits int() refuses.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_COUNT_DIGITS):
        return page(
            "人数无效",
            "<p>请填写去帮忙的人数（数字），再提交一次。</p>",
            tone="bad",
            status_code=422,
        )
    return TeamChoice(min(50, max(1, int(raw))))


async def act_on_offer(
    request: Request,
    wanted: oo.LinkUse,
    community_id: str,
    *,
    identified: bool = False,
    platform_user_id: str | None = None,
    team: TeamChoice = TeamChoice(),
) -> HTMLResponse:
    """Accept or decline once (the first use claims it), then show what the worker decided.
    Shared by the per-helper links and the bound-device answer page (answer_pages.py).
    `identified`: the platform login said this is the helper (the contact may be shown
    again to them, from any device they log in on)."""
    deps: ApiDeps = request.app.state.deps
    deps.limiter.check(("helper", wanted.helper_id), 20, 10, "helper")
    pool = await deps.pool()
    # A held request's decline: nothing sent, the link not used (see _held_page); 409.
    held = await _held_page(
        request,
        deps,
        wanted,
        community_id,
        identified=identified,
        user=platform_user_id,
        status_code=409,
    )
    if held is not None:
        return held
    if (beyond := await _beyond_team(pool, wanted, team)) is not None:
        return beyond
    wanted = await oo.for_this_ask(pool, wanted)
    await _free_again(deps, pool, await link_uses.recorded(pool, wanted.use_key), community_id)
    wanted = await _attempt(pool, wanted)
    command = await _command_json(deps, pool, wanted, community_id, team)
    first, use = await oo.claim(pool, replace(wanted, command=command))
    # The first press sends; so does one finding the link used but its command not known to
    # be in Kafka (that press was cut off before the ack): the stored command, same id.
    ours = first or not use.queued
    if ours and not await _queue(deps, pool, use, community_id):
        return page(
            "暂时无法提交",
            "<p>系统繁忙，请稍后再点一次。</p>",
            tone="bad",
            status_code=503,
        )
    # Only the request that queued the command gets the view cookie; a repeat POST from
    # elsewhere (a forwarded link) sees the outcome without the contact.
    may_see = ours or identified or _may_see(request, deps, use)
    outcome = await oo.settle(pool, use)
    if outcome == "refused" and (
        again := await _member_refused(pool, use, request.url.path, community_id)
    ):
        return again
    if outcome == "not_open" and (  # a decline racing the same helper's accept
        held := await _held_page(
            request,
            deps,
            use,
            community_id,
            identified=identified,
            user=platform_user_id,
            status_code=409,
        )
    ):
        return held
    answer = await _outcome_page(
        deps,
        use,
        outcome,
        may_see=may_see,
        via="accept" if ours else "revisit",
        community_id=community_id,
        user=platform_user_id,
    )
    if ours and use.action == "accept":
        set_view_cookie(request, deps, use.offer_id, use.helper_id, answer)
    return answer


# The core's refusals of a leader's accept for one member (its `detail`), what the leader
# is told of that member; nothing was done, so they may choose again.
MEMBER_REFUSALS = {
    "not_a_team_member": "不是本队可以报名的队员",
    "already_assigned": "已经接下了这次求助",
    "member_declined": "已婉拒这次求助",
    "member_unavailable": "目前外出或忙碌",
}


# Refusals after which the link takes a new try (`_attempt`): a member who may not go, and
# `helping_elsewhere` (the helper held another in-person request; free again, they may
# still take a slot left open: core `_busy_elsewhere`).
RETRIED_REFUSALS = frozenset({*MEMBER_REFUSALS, "helping_elsewhere"})


async def _attempt(pool: asyncpg.Pool, use: oo.LinkUse) -> oo.LinkUse:
    """The use with this try's command id: the link's own at first, a new one after each
    refusal that did nothing (`RETRIED_REFUSALS`: the refused command stays the core's and
    the read model's answer to its try; two presses of one try still make one command)."""
    if use.action != "accept":
        return use
    tries = await read_offers.refusals(pool, use.request_id, use.offer_id, RETRIED_REFUSALS)
    return replace(use, command_id=oo.command_id_for(f"{use.use_key}#{tries}")) if tries else use


async def _free_again(
    deps: ApiDeps, pool: asyncpg.Pool, use: oo.LinkUse | None, community_id: str
) -> bool:
    """An accept refused as `helping_elsewhere` whose helper no longer holds an in-person
    request (`presence_held`): the use is reopened (True), so the link invites, and a
    press is a new try (`_attempt`). While they still hold one, the refusal stays the
    link's answer (a press sends nothing)."""
    if use is None or use.outcome != "helping_elsewhere":
        return False
    if await read_assignments.presence_held(pool, community_id, use.helper_id, deps.clock()):
        return False
    await link_uses.reopen(pool, use.use_key, use.command_id, "helping_elsewhere")
    return True


async def _member_refused(
    pool: asyncpg.Pool, use: oo.LinkUse, action: str, community_id: str
) -> HTMLResponse | None:
    """A leader's accept refused for one member: the link reopened, and why, to choose
    again; None for any other refusal (the link's answer stays). Also on opening the link:
    the refusal is often first seen on the "confirming" page's refresh."""
    found = await read_offers.rejection(pool, use.command_id) if use.action == "accept" else None
    if found is None or found[0] not in MEMBER_REFUSALS or not found[1]:
        return None
    reason, member = found
    await link_uses.reopen(pool, use.use_key, use.command_id)
    team = await read_offers.team_of(pool, use.offer_id)
    members = await read_team.active_members(pool, community_id, team[0]) if team else []
    names = {m.helper_id: m.name for m in members}
    return page(
        "无法处理",
        f"<p>{e(names.get(member) or member)}{MEMBER_REFUSALS[reason]}，这次不能由您报名。"
        "其他队员都还没有报名。请重新勾选同去的队员，再提交一次。</p>"
        f'<p><a href="{e(action)}">重新选择</a></p>',
        tone="warn",
    )


async def _beyond_team(
    pool: asyncpg.Pool, use: oo.LinkUse, team: TeamChoice
) -> HTMLResponse | None:
    """A count (the form from before names) above the team's size as its offer recorded
    it is refused (422), acting on nothing: the leader would hold slots nobody fills.
    Named members are the core's to check, one by one."""
    if team.member_ids or team.members <= 1:
        return None
    known = await read_offers.team_of(pool, use.offer_id)
    if known is None or team.members <= known[1]:
        return None  # not recorded yet: the core decides
    return page(
        "人数超过队伍人数",
        f"<p>您的队伍共{known[1]}人，这次最多去{known[1]}位（含您自己）。"
        "请改正人数，再提交一次。</p>",
        tone="bad",
        status_code=422,
    )


async def _command_json(
    deps: ApiDeps, pool: asyncpg.Pool, use: oo.LinkUse, community_id: str, team: TeamChoice
) -> str:
    """The command this press sends, as stored and sent; '' for none: a member's link
    confirms an assignment their leader made. Read before the claim: after it, a failed
    read would leave the link used with nothing sent."""
    if use.action == "accept":
        if await read_team.signed_up_by(pool, use.request_id, use.helper_id, use.offer_id):
            return ""
        body: AcceptOffer | DeclineOffer = AcceptOffer(
            request_id=use.request_id,
            offer_id=use.offer_id,
            helper_id=use.helper_id,
            members=team.members,
            member_ids=team.member_ids,
        )
    else:
        body = DeclineOffer(
            request_id=use.request_id, offer_id=use.offer_id, helper_id=use.helper_id
        )
    command = Command(
        command_id=use.command_id, community_id=community_id, issued_at=deps.clock(), body=body
    )
    return command.model_dump_json()


async def _queue(deps: ApiDeps, pool: asyncpg.Pool, use: oo.LinkUse, community_id: str) -> bool:
    """Send the use's stored command and mark it queued. False (the claim released, so the
    next press sends again) if anything failed; re-raised after the release if cancelled."""
    try:
        if use.command:
            await send_json(deps, community_id, use.command)
            await link_uses.mark_queued(pool, use.use_key)
    except BaseException as exc:
        await oo.release(pool, use.use_key)
        if not isinstance(exc, Exception):
            raise
        log.warning("offer %s: answer not queued (%s)", use.offer_id, type(exc).__name__)
        return False
    return True
