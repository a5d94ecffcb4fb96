"""The whistle's and the referral rung's links for the people they call: `/l/w/<token>`.

GET shows what the link does and one button (chat previews never act); POST acts, once:
"claim" takes the request on as that recipient (`ClaimRequest`, by `recipient:<id>`),
"report" is their 报到 (`ReportBack`), which the asking group hears of. Each use is a
`staff_actions` row (who, when, what, the command) and a used-link hash. A forged, edited,
expired or reused link acts on nothing.

Nothing pressed is lost, as with the offer links (offer_pages.py): the use is claimed with
its command and its audit row in one transaction (a failure there leaves the link unused),
then the command goes to Kafka and the use is marked queued. The use is the outbox, as
the intake row is for requests: should Kafka refuse (503: press again) or the API die before
Kafka's ack, it stays with its command unacknowledged, the next press sends that command
again (same command id and audit row: the worker applies it once) and so does the
unrecorded sweeper when enabled; only a use Kafka acknowledged answers "already used". Not
released, unlike an offer link's (whose command id is the link's own): a new claim would
be a new command id, a second claim or 报到 if the first send did reach Kafka. Nor held open
until the ack: that would keep a pooled connection through every Kafka wait.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from dispatcher.api.command_queue import send_json
from dispatcher.api.deps import ApiDeps
from dispatcher.api.offer_outcomes import decided
from dispatcher.api.pages import button_form, e, link_error, page
from dispatcher.links import LinkError
from dispatcher.push.recipients import ROLE_ZH
from dispatcher.recipient_links import PATH, RecipientClaims, use_key, verify_recipient_token
from dispatcher.record.edge import recipient_links as uses
from dispatcher.record.edge import staff_actions as audit_rows
from dispatcher.record.read import request_flags
from dispatcher.record.read import requests as read_requests
from schemas.catalogue import label_zh
from schemas.commands import Command, CommandBody, new_command
from schemas.staff_actions import ClaimRequest, ReportBack

log = logging.getLogger(__name__)
router = APIRouter(tags=["links"], include_in_schema=False)
Token = Annotated[str, Path(min_length=1, max_length=1024)]
_DOES = {"claim": ("接手这条求助", "我来接手"), "report": ("吹哨报到", "我已报到")}


def _claims(request: Request, token: str) -> RecipientClaims | HTMLResponse:
    deps: ApiDeps = request.app.state.deps
    try:
        return verify_recipient_token(deps.settings, token, deps.clock())
    except LinkError as exc:
        return link_error(exc.reason)


@router.get(PATH + "{token}")
async def recipient_page(request: Request, token: Token) -> HTMLResponse:
    claims = _claims(request, token)
    if isinstance(claims, HTMLResponse):
        return claims
    title, button = _DOES[claims.action]
    who = ROLE_ZH.get(claims.role, claims.role)
    row = await read_requests.status(await request.app.state.deps.pool(), claims.request_id)
    what = f"<p>{e(who)}：{e(label_zh(str(row['category'])) if row else '求助')}</p>"
    # No button where the core would refuse the press: a closed request, or (to claim) one
    # already taken on. The claimer is not named: the link is unauthenticated.
    if row is not None and row["closed_at"] is not None:
        return page(CLOSED, what + "<p>这条求助已经结束，无需再操作。</p>", tone="warn")
    if claims.action == "claim" and row is not None and row["claimed_by"] is not None:
        if row["claimed_by"] == _actor(claims):
            return page("您已接手", what + "<p>您已接手这条求助，请尽快联系求助人。</p>")
        return page(TAKEN, what + "<p>已有工作人员接手这条求助，无需再操作。</p>", tone="warn")
    return page(title, what + button_form(PATH + token, button))


@router.post(PATH + "{token}")
async def recipient_act(request: Request, token: Token) -> HTMLResponse:
    claims = _claims(request, token)
    if isinstance(claims, HTMLResponse):
        return claims
    deps: ApiDeps = request.app.state.deps
    pool = await deps.pool()
    key = use_key(token)
    try:
        use = await _claim(pool, key, claims, _command(deps, claims))
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        log.warning("recipient link not claimed (%s); it stays usable", type(exc).__name__)
        return _busy()  # rolled back: neither the use nor its audit row
    if use.queued or use.command is None:
        return page(
            "链接已使用", "<p>这条链接已经用过了，无需再操作。</p>", tone="warn", status_code=409
        )
    # The first press, or one after a press refused by Kafka or cut off before its ack.
    try:
        await send_json(deps, claims.community_id, use.command)
    except Exception:
        return _busy()
    await uses.mark_queued(pool, key)
    await audit_rows.queued(pool, use.command_id)
    return await _outcome(pool, claims, use.command_id)


# What a press is told when the core refused it (its CommandRejected reason).
CLOSED = "求助已结束"
TAKEN = "已由其他工作人员接手"
_REFUSED = {
    "request_closed": (CLOSED, "这条求助已经结束，无需再操作。"),
    "already_claimed": (TAKEN, "已有工作人员接手这条求助，无需再操作。"),
}


async def _outcome(pool: asyncpg.Pool, claims: RecipientClaims, command_id: str) -> HTMLResponse:
    """What the core made of the press, read back from the read model as the offer pages
    do: done (the claim is this recipient's, the 报到 is in the log), refused (its reason),
    or not known yet within the poll's time (202: it will be)."""

    async def applied() -> bool | None:
        return True if await _applied(pool, claims) else None

    done, reason = await decided(pool, command_id, applied)
    if done:
        if claims.action == "claim":
            return page("已接手，谢谢！请尽快联系求助人。", _SEEN)
        return page("已报到，谢谢！", _SEEN)
    if reason is not None:
        title, text = _REFUSED.get(reason, ("无需操作", "这条求助现在无需此操作。"))
        return page(title, f"<p>{e(text)}</p>", tone="warn", status_code=409)
    checking = "<p>正在确认，请稍后再打开这条链接查看。</p>"
    return page("已收到", checking, tone="warn", status_code=202)


_SEEN = "<p>社区看板和求助群会看到这条消息。</p>"


async def _applied(pool: asyncpg.Pool, claims: RecipientClaims) -> bool:
    """The claim is this recipient's (theirs from an earlier press too), or their 报到 is
    recorded (a `whistle_reported_back` is in the event log only)."""
    if claims.action == "claim":
        row: dict[str, Any] | None = await read_requests.status(pool, claims.request_id)
        return row is not None and row["claimed_by"] == _actor(claims)
    return await request_flags.reported_back(pool, claims.request_id, claims.recipient)


def _busy() -> HTMLResponse:
    return page("暂时无法提交", "<p>系统繁忙，请稍后再点一次。</p>", tone="bad", status_code=503)


def _command(deps: ApiDeps, claims: RecipientClaims) -> Command:
    body: CommandBody = (
        ClaimRequest(request_id=claims.request_id, by=_actor(claims), via="link")
        if claims.action == "claim"
        else ReportBack(request_id=claims.request_id, recipient=claims.recipient, role=claims.role)
    )
    return new_command(body, community_id=claims.community_id, issued_at=deps.clock())


def _actor(claims: RecipientClaims) -> str:
    return f"recipient:{claims.recipient}"


async def _claim(
    pool: asyncpg.Pool, key: str, claims: RecipientClaims, command: Command
) -> uses.RecipientUse:
    """The link's use with its command and its audit row, both or neither; a used link's
    recorded use."""
    async with pool.acquire() as conn, conn.transaction():
        use = await uses.claim_use(
            conn,
            key,
            claims.request_id,
            claims.recipient,
            claims.action,
            command.command_id,
            command.model_dump_json(),
        )
        if use.first:
            await audit_rows.begin(conn, _audit_row(claims, command.command_id))
    return use


def _audit_row(claims: RecipientClaims, command_id: str) -> audit_rows.StaffAction:
    return audit_rows.StaffAction(
        actor=_actor(claims),
        action="claim" if claims.action == "claim" else "report_back",
        request_id=claims.request_id,
        community_id=claims.community_id,
        command_id=command_id,
        via="link",
        detail=claims.role,
    )
