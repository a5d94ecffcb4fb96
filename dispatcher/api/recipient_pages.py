"""The whistle's and the referral rung's links for the people they call: `/l/w/<token>`.

GET shows what the link does and one button (chat previews never act); POST acts, once:
"claim" takes the request on as that recipient (`ClaimRequest`, by `recipient:<id>`),
"report" is their 报到 (`ReportBack`), which the asking group hears of. Each use is a
`staff_actions` row (who, when, what, the command) and a used-link hash. A forged, edited,
expired or reused link acts on nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from dispatcher.api.command_queue import produce
from dispatcher.api.deps import ApiDeps
from dispatcher.api.pages import button_form, e, link_error, page
from dispatcher.links import LinkError
from dispatcher.push.recipients import ROLE_ZH
from dispatcher.recipient_links import PATH, RecipientClaims, use_key, verify_recipient_token
from dispatcher.record.edge import recipient_links as uses
from dispatcher.record.edge import staff_actions as audit_rows
from dispatcher.record.read import requests as read_requests
from schemas.commands import CommandBody, new_command
from schemas.staff_actions import ClaimRequest, ReportBack

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
    summary = await read_requests.summary(await request.app.state.deps.pool(), claims.request_id)
    what = f"<p>{e(who)}：{e(summary.category if summary else '求助')}</p>"
    return page(title, what + button_form(PATH + token, button))


@router.post(PATH + "{token}")
async def recipient_act(request: Request, token: Token) -> HTMLResponse:
    claims = _claims(request, token)
    if isinstance(claims, HTMLResponse):
        return claims
    deps: ApiDeps = request.app.state.deps
    actor = f"recipient:{claims.recipient}"
    body: CommandBody = (
        ClaimRequest(request_id=claims.request_id, by=actor, via="link")
        if claims.action == "claim"
        else ReportBack(request_id=claims.request_id, recipient=claims.recipient, role=claims.role)
    )
    command = new_command(body, community_id=claims.community_id, issued_at=deps.clock())
    pool = await deps.pool()
    key = use_key(token)
    first = await uses.claim_use(
        pool, key, claims.request_id, claims.recipient, claims.action, command.command_id
    )
    if not first:
        return page(
            "链接已使用", "<p>这条链接已经用过了，无需再操作。</p>", tone="warn", status_code=409
        )
    await audit_rows.begin(
        pool,
        audit_rows.StaffAction(
            actor=actor,
            action="claim" if claims.action == "claim" else "report_back",
            request_id=claims.request_id,
            community_id=claims.community_id,
            command_id=command.command_id,
            via="link",
            detail=claims.role,
        ),
    )
    try:
        await produce(deps, command)
    except Exception:
        await uses.release(pool, key)
        raise
    await audit_rows.queued(pool, command.command_id)
    done = "已接手，谢谢！请尽快联系求助人。" if claims.action == "claim" else "已报到，谢谢！"
    return page(done, "<p>社区看板和求助群会看到这条消息。</p>")
