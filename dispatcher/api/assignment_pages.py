"""The accepted helper's buttons: 我在路上 (on my way), 去不了了 (can't come after all) and
已完成 (done, with optional minutes). Each POST becomes one command through Kafka; the
core decides, the page shows what it recorded.

Only the accepted helper may press them: the link (a signed offer token) is not enough -
links get forwarded - so the request must also carry the helper's identity: the platform
login where the community has one, else the contact-view cookie the accepting phone got
(view_cookie.py). Anything else is refused with 403 and no command is sent.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from dispatcher.api.command_queue import produce
from dispatcher.api.deps import ApiDeps
from dispatcher.api.offer_outcomes import LinkUse, decided, use_for
from dispatcher.api.pages import e, link_error, page
from dispatcher.api.platform_login import gate
from dispatcher.api.view_cookie import may_see_contact
from dispatcher.links import OFFER_PATH, LinkClaims, LinkError, offer_token, verify_token
from dispatcher.numbers import NotANumber, parse_int
from dispatcher.record.db import Db
from dispatcher.record.edge import group_threads
from dispatcher.record.read import assignments as read_assignments
from dispatcher.record.read import requests as read_requests
from dispatcher.record.read.assignments import Progress
from dispatcher.sealing import Unreadable, keyring, open_stored
from schemas.commands import (
    MAX_MINUTES_SPENT,
    Command,
    CommandBody,
    CompleteAssignment,
    MarkOnMyWay,
    WithdrawHelper,
)
from schemas.vocab import EMERGENCY_SERVICES

router = APIRouter(prefix=OFFER_PATH.rstrip("/"), tags=["volunteer links"])
Token = Path(min_length=1, max_length=1024, description="A signed offer token")
Step = Literal["on-my-way", "cant-come", "done"]
STEPS: tuple[Step, ...] = ("on-my-way", "cant-come", "done")
# The buttons' own link outlives the offer's (minutes): "done" may come hours later.
PROGRESS_LINK_LIFETIME = timedelta(days=2)
_NS = uuid.UUID("0f8e7a3c-5b1d-4e2a-9c6f-3d2b1a0e9f84")
NOT_YOU = "<p>只有接下这次求助的邻居本人可以操作。请在接单的那部手机上打开接单消息中的链接。</p>"


def progress_token(deps: ApiDeps, use: LinkUse, community_id: str, user: str | None) -> str:
    """A fresh signed link for the buttons: this offer, this helper, and the platform user
    (`user`) whose login the community may require."""
    return offer_token(
        deps.settings,
        action="accept",
        request_id=use.request_id,
        offer_id=use.offer_id,
        helper_id=use.helper_id,
        community_id=community_id,
        expires_at=deps.clock() + PROGRESS_LINK_LIFETIME,
        platform_user_id=user,
    )


def _form(action: str, label: str, extra: str = "", *, second: bool = False) -> str:
    cls = ' class="second"' if second else ""
    return (
        f'<form method="post" action="{e(action)}">{extra}'
        f'<button type="submit"{cls}>{e(label)}</button></form>'
    )


async def kept_on(db: Db, request_id: str, progress: Progress | None) -> bool:
    """Closed by a staff referral to 120/110/119, which keeps the helpers assigned (the
    core's `request_commands.kept_on`): they were told to go on if they can, so 我在路上
    and 去不了了 still mean something. Read only for a closed request."""
    if progress is None or not progress.request_closed:
        return False
    row = await read_requests.status(db, request_id)
    return row is not None and row["referred_to"] in EMERGENCY_SERVICES


# A remote helper guides by phone; a requester who left none (a group bot's sender: an id
# and a name) is reached in the group they asked in, as that group was told ("将在群内联系
# 您", 701027c) and the helper's push says (11e85d0). One who asked in no group (staff, a
# plain API call) is reached through the community's staff: never a call nobody can make,
# nor a group that does not exist.
REMOTE_NO_PHONE = "求助人未留电话，请在求助的群内@求助人联系，远程指导，无需前往。"
REMOTE_NO_GROUP = "求助人未留电话，请联系社区工作人员了解如何联系求助人，远程指导，无需前往。"
CALL_NOW = "如情况危急，请先拨打120/110/119。"
# How a remote helper reaches the requester, as their page says: "phone" (shown a number),
# "group" (no phone, asked in a chat group), "staff" (no phone, no group known).
Reach = Literal["phone", "group", "staff"]
_ON_WAY_LABELS: dict[Reach | None, str] = {"phone": "正在打电话", "group": "已在群内联系"}


def on_way_label(progress: Progress, reach: Reach | None) -> str:
    """The 我在路上 button's words: a remote helper's says how they reach the requester,
    by phone only when the page showed them one (`reach` None: not known here)."""
    if not progress.remote:
        return "我在路上"
    return _ON_WAY_LABELS.get(reach, "正在联系求助人")


def remote_lead(reach: Reach) -> str:
    """The accepted remote helper's page: its first paragraph."""
    if reach == "phone":
        return f"<p>您已接下这次求助，请尽快致电求助人，电话指导，无需前往。{CALL_NOW}</p>"
    how = REMOTE_NO_PHONE if reach == "group" else REMOTE_NO_GROUP
    return f"<p>您已接下这次求助。{how}{CALL_NOW}</p>"


async def reach_without_phone(db: Db, request_id: str) -> Reach:
    """A requester who left no phone: "group" when they asked in a chat group, as the
    platform intake recorded on its thread (`requester_phone` false: the requester's own
    thread, not a co-report's); else "staff". A flag of the API's own table, nothing
    sealed read."""
    found = await group_threads.for_requests(db, [request_id])
    asked = any(t.requester_phone is False for t in found.get(request_id, ()))
    return "group" if asked else "staff"


async def requester_reach(deps: ApiDeps, db: Db, request_id: str, helper_id: str) -> Reach | None:
    """How this helper was told to reach the requester (the contact `offer_pages` shows
    them). None when they are shown no contact any more (the request ended) or it cannot
    be opened."""
    details = await read_requests.private_details(db, request_id, helper_id)
    if details is None:
        return None
    try:
        private = open_stored(
            keyring(deps.settings),
            request_id,
            details["contact"],
            details["text"],
            details["sealed"],
        )
    except Unreadable:
        return None
    return "phone" if private.contact.phone else await reach_without_phone(db, request_id)


def section(
    token: str, progress: Progress, *, kept: bool = False, reach: Reach | None = None
) -> str:
    """The buttons still meaningful for this assignment (none once done or withdrawn): all
    three while the request is open, or referred to 120/110/119 keeping the helper
    (`kept`, from `kept_on`); only 已完成 after any other closing (a resolved or expired
    request still counts it; the core refuses it after a cancellation). `reach`: how the
    requester is reached (`requester_reach`), for a remote helper's label."""
    if not progress.held:
        return ""
    if progress.done_at is not None:
        # No minutes recorded (a row from before they were): no "（None分钟）".
        spent = "" if progress.minutes_spent is None else f"（{progress.minutes_spent}分钟）"
        return f"<p>您已标记完成{e(spent)}。谢谢您！</p>"
    base = OFFER_PATH + token + "/p/"
    minutes = (
        '<label>用了多少分钟（可不填）<input name="minutes" type="number" min="0" '
        f'max="{MAX_MINUTES_SPENT}" inputmode="numeric"></label>'
    )
    going = kept or not progress.request_closed
    parts = []
    if progress.on_way_at is None and going:
        parts.append(_form(base + "on-my-way", on_way_label(progress, reach)))
    parts.append(_form(base + "done", "已完成", minutes))
    if going:
        parts.append(_form(base + "cant-come", "去不了了", second=True))
    return "<section>" + "".join(parts) + "</section>"


def _command_body(step: Step, claims: LinkClaims, minutes: int | None) -> CommandBody:
    assert claims.request_id is not None
    who = {"request_id": claims.request_id, "helper_id": claims.helper_id}
    if step == "on-my-way":
        return MarkOnMyWay(**who)
    if step == "cant-come":
        return WithdrawHelper(**who)
    return CompleteAssignment(**who, minutes=minutes)


async def _minutes(request: Request) -> int | Literal["bad"] | None:
    raw = parse_qs((await request.body()).decode("utf-8", "replace")).get("minutes", [""])[0]
    raw = raw.strip()
    if not raw:
        return None
    try:
        return parse_int(raw, "minutes", lo=0, hi=MAX_MINUTES_SPENT)
    except NotANumber:
        return "bad"


def _recorded(step: Step, p: Progress | None) -> bool:
    if p is None:
        return False
    if step == "on-my-way":
        return p.on_way_at is not None
    if step == "cant-come":
        return p.released_why in ("withdrew", "no_show")
    return p.done_at is not None


# What follows a 去不了了 outside a referral. The page is answered without knowing what the
# core does next: ask other neighbours at once, wait for the quiet hours' end (nobody is
# asked at night), or, with nobody left to ask, call staff on duty (and 120 again for a
# critical request). So no promise of neighbours: only what is true in every case.
# (`WILL_SEE` is the same promise before the press, on the offer's held page.)
CANT_COME_THEN = "您去不了的情况已记录，社区工作人员可以看到，会继续为求助人想办法"
WILL_SEE = "社区工作人员会看到，并继续为求助人想办法"
DONE_PAGES: dict[Step, tuple[str, str]] = {
    "on-my-way": ("已记录：您在路上", "<p>求助人和社区已知道您正在赶来。注意安全！</p>"),
    "cant-come": ("已记录：这次去不了", f"<p>没关系，{CANT_COME_THEN}。谢谢您告知！</p>"),
    "done": ("已完成，谢谢您！", "<p>已记录您的帮助时长。感谢您为邻里付出！</p>"),
}
# 去不了了 after a referral to 120/110/119 (`kept_on`): nobody else is asked, the
# professionals are on their way; the withdrawal shows on the staff dashboard.
REFERRED_CANT_COME = (
    "已记录：这次去不了",
    "<p>没关系。求助已转交专业救援，不再另找邻居；您去不了的情况已记录，"
    "社区工作人员可以看到。谢谢您！</p>",
)
REMOTE_ON_WAY = ("已记录：您正在打电话", "<p>请直接电话指导求助人，无需前往。谢谢您！</p>")
REMOTE_IN_GROUP = ("已记录：您正在联系求助人", f"<p>{REMOTE_NO_PHONE}谢谢您！</p>")
REMOTE_VIA_STAFF = ("已记录：您正在联系求助人", f"<p>{REMOTE_NO_GROUP}谢谢您！</p>")
# Whether they were shown a phone is not known (the request ended meanwhile): no call named.
REMOTE_REACHING = ("已记录：您正在联系求助人", "<p>请远程指导求助人，无需前往。谢谢您！</p>")
_REMOTE_ON_WAY_PAGES: dict[Reach | None, tuple[str, str]] = {
    "phone": REMOTE_ON_WAY,
    "group": REMOTE_IN_GROUP,
    "staff": REMOTE_VIA_STAFF,
}
REFUSED: dict[str, str] = {
    "not_assigned": "您已不再负责这次求助，无需操作。",
    "request_closed": "这次求助已经结束，无需前往。谢谢您！",
    "already_done": "您已标记完成，无需再操作。谢谢您！",
}
# "done" is refused as closed only when a cancellation or referral stood the helper down:
# say that no service time was recorded (a resolved or expired request still takes it).
REFUSED_DONE: dict[str, str] = {
    **REFUSED,
    "request_closed": "这次求助已取消或已转交，您无需再操作，本次不记录服务时长。谢谢您！",
}


def refusal_text(step: Step, reason: str) -> str:
    refused = REFUSED_DONE if step == "done" else REFUSED
    return refused.get(reason, "这次操作无法处理，请联系社区工作人员。")


@router.post("/{token}/p/{step}", response_class=HTMLResponse)
async def press(
    request: Request,
    step: Step,
    token: str = Token,
) -> Response:
    deps: ApiDeps = request.app.state.deps
    now = deps.clock()
    try:
        claims = verify_token(deps.settings, token, now)
    except LinkError as exc:
        return link_error(exc.reason)
    if claims.kind != "accept" or claims.request_id is None or claims.offer_id is None:
        return page("链接无效", "<p>这条链接不能用于此操作。</p>", tone="bad", status_code=400)
    login, instead = await gate.check(request, deps, claims, acting=True)
    if instead is not None:
        return instead
    if login is None and not may_see_contact(request, deps, claims.offer_id, claims.helper_id):
        return page("无法操作", NOT_YOU, tone="bad", status_code=403)
    minutes = await _minutes(request) if step == "done" else None
    if minutes == "bad":
        return page(
            "分钟数不对",
            f"<p>请填写0到{MAX_MINUTES_SPENT}之间的整数，或不填。</p>",
            tone="bad",
            status_code=422,
        )
    deps.limiter.check(("helper", claims.helper_id), 20, 10, "helper")
    pool = await deps.pool()
    held = await read_assignments.progress(
        pool, claims.request_id, claims.helper_id, claims.offer_id
    )
    if held is None:
        return page("无法操作", NOT_YOU, tone="bad", status_code=403)
    # One command id per (step, offer): a double tap is one command (the core dedupes).
    command = Command(
        command_id=str(uuid.uuid5(_NS, f"{step}:{claims.offer_id}")),
        community_id=claims.community_id,
        issued_at=now,
        body=_command_body(step, claims, minutes),
    )
    if not _recorded(step, held):
        try:
            await produce(deps, command)
        except Exception:
            return page(
                "暂时无法提交", "<p>系统繁忙，请稍后再点一次。</p>", tone="bad", status_code=503
            )
    return await _outcome(deps, step, claims, command.command_id)


async def _outcome(deps: ApiDeps, step: Step, claims: LinkClaims, command_id: str) -> HTMLResponse:
    assert claims.request_id is not None and claims.offer_id is not None
    pool = await deps.pool()
    request_id, offer_id = claims.request_id, claims.offer_id

    async def recorded() -> Progress | None:
        p = await read_assignments.progress(pool, request_id, claims.helper_id, offer_id)
        return p if _recorded(step, p) else None

    p, reason = await decided(pool, command_id, recorded)
    if p is not None:
        kept = await kept_on(pool, request_id, p)
        reach = (
            await requester_reach(deps, pool, request_id, claims.helper_id) if p.remote else None
        )
        title, body = DONE_PAGES[step]
        if step == "on-my-way" and p.remote:
            title, body = _REMOTE_ON_WAY_PAGES.get(reach, REMOTE_REACHING)
        elif step == "cant-come" and kept:
            title, body = REFERRED_CANT_COME
        use = use_for("accept", request_id, offer_id, claims.helper_id)
        token = progress_token(deps, use, claims.community_id, claims.platform_user_id)
        return page(title, body + section(token, p, kept=kept, reach=reach))
    if reason is not None:
        text = refusal_text(step, reason)
        return page("无需操作", f"<p>{e(text)}</p>", tone="warn", status_code=409)
    return page(
        "已收到",
        "<p>正在确认，请稍后刷新接单页面查看。</p>",
        tone="warn",
        status_code=202,
    )
