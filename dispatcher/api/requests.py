"""Help requests from bots: submit (structured), status, cancel, resolve.

A bot acts only within its own communities (403 otherwise); staff may act anywhere.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from dispatcher.api import server_timing
from dispatcher.api.bot_auth import BotOrStaff, Caller, ensure_community, submitting_caller
from dispatcher.api.chat_spec import property_concern
from dispatcher.api.command_queue import request_id_for, send_command, submit_once
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.json_body import parse_json_body
from dispatcher.api.models import (
    Accepted,
    CancelIn,
    CommandAccepted,
    HelpRequestIn,
    RequestStatusOut,
    ResolveIn,
)
from dispatcher.api.ratelimit import (
    charge_bot,
    charge_emergency,
    emergency_peek,
    over_allowance,
)
from dispatcher.api.staff_accounts import TOKEN_ACCOUNT
from dispatcher.classify import Classification, emergency_in
from dispatcher.groupchat.bots import BotConfig
from dispatcher.record.edge import intake
from dispatcher.record.read import requests as read_requests
from dispatcher.redact import masked
from dispatcher.sealing import keyring, seal_closing
from schemas.commands import CancelRequest, ResolveRequest
from schemas.places import PlacePath
from schemas.requests import RequesterContact, RequestSource, RequestSpec
from schemas.vocab import Party, Urgency

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/requests", tags=["requests"])

RequestId = Annotated[str, Path(min_length=1, max_length=64)]


def emergency_said(body: HelpRequestIn) -> Classification | None:
    """The classifier's safety floor over the bot's text: a live red flag ("着火了",
    "持刀", "晕倒叫不醒") whatever category and urgency the bot chose. The rule tables
    only: the floor's model would cost the intake's hot path ~10x as much (the bot has
    classified the message already, and can say `life_threatening` itself)."""
    if not body.text:
        return None
    said = emergency_in(body.text, use_model=False)
    return said if said.advise_emergency_call else None


def spec_from(
    body: HelpRequestIn,
    request_id: str,
    source: RequestSource | None,
    alarm: Classification | None = None,
) -> RequestSpec:
    """`alarm`: `emergency_said(body)`; it only ever raises (critical, life-threatening,
    its number, 物业 told), as the floor does for a chat message. A bot's
    `life_threatening: true` raises the urgency too: its requester is told neighbours are
    coming, so its ladder rings at the critical pace and through do-not-disturb."""
    life_threatening = bool(body.life_threatening or alarm)
    urgency = Urgency.CRITICAL if life_threatening else body.urgency
    return RequestSpec(
        request_id=request_id,
        community_id=body.place.community_id,
        place=PlacePath(**body.place.model_dump()),
        category=body.category,
        urgency=urgency,
        skills=tuple(dict.fromkeys(body.skills)),
        helpers_needed=body.helpers_needed,
        text=body.text,
        contact=RequesterContact(**body.contact.model_dump()),
        requester_helper_id=body.requester_helper_id,
        prefer_gender=body.prefer_gender,
        prefer_party_member=body.prefer_party_member,
        life_threatening=True if life_threatening else None,
        emergency_number=alarm.emergency_number if alarm else None,
        notify_property=property_concern(body.category, urgency, alarm),
        source=source,
    )


_SIGNED = "Signed bot: see the API description (staff send `Authorization` instead)"
_SUBMIT_DOC: dict[str, Any] = {
    # The lean route below reads its own body and headers: documented here instead.
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HelpRequestIn"}}},
    },
    "parameters": [
        {"name": name, "in": "header", "required": False, "schema": schema, "description": text}
        for name, schema, text in (
            ("Idempotency-Key", {"type": "string", "maxLength": 128}, "Makes retries safe"),
            ("Authorization", {"type": "string"}, "Staff: Bearer <token>"),
            ("X-Bot-Id", {"type": "string"}, "The calling bot's id"),
            ("webhook-id", {"type": "string"}, _SIGNED),
            ("webhook-timestamp", {"type": "string"}, _SIGNED),
            ("webhook-signature", {"type": "string"}, _SIGNED),
        )
    ],
}


def document(app: FastAPI) -> None:
    """Put the lean route's body model (and the models it uses) into the OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = generate()
            found = HelpRequestIn.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in found.pop("$defs", {}).items():
                schemas.setdefault(name, schema)
            schemas.setdefault("HelpRequestIn", found)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses={
        401: {"description": "Missing or bad signature"},
        403: {"description": "Not this bot's community"},
        422: {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        },
    },
    openapi_extra=_SUBMIT_DOC,
)
async def submit_request(request: Request) -> Response:
    """Submit a structured help request (a bot, or the staff console). 202 once it is
    durably queued (acks=all).

    Retries are safe with an `Idempotency-Key` header or a `source.message_id`: the same
    request id and answer come back and nothing is dispatched twice."""
    # The bot intake's hot path: no per-request dependency resolution (it cost more CPU
    # than the route itself); the caller is authenticated before the body is parsed.
    async with submitting_caller(request) as caller:
        server_timing.mark("auth")
        key = request.headers.get("idempotency-key")
        content_type = request.headers.get("content-type")
        body = parse_json_body(HelpRequestIn, content_type, await request.body())
        server_timing.mark("parse")
        return await _submit(request, caller, body, _checked(key))


def _checked(idempotency_key: str | None) -> str | None:
    if idempotency_key is not None and len(idempotency_key) > 128:
        loc = ("header", "idempotency-key")
        error = {"type": "string_too_long", "loc": loc, "msg": "at most 128 characters"}
        raise RequestValidationError([error | {"input": idempotency_key}])
    return idempotency_key


async def _submit(
    request: Request, caller: Caller, body: HelpRequestIn, idempotency_key: str | None
) -> Response:
    ensure_community(caller, body.place.community_id)
    src = body.source
    owner = submitter(caller)  # idempotency keys and request ids are per caller
    if caller.bot is not None and src is not None and src.bot_id not in (None, owner):
        raise fail(422, "bot_mismatch", "source.bot_id differs from X-Bot-Id")
    group_id = src.group_id if src else None
    message_id = src.message_id if src else None
    if message_id:
        request_id = request_id_for(owner, group_id, message_id)
    elif idempotency_key:
        request_id = request_id_for(owner, "idempotency-key", idempotency_key)
    else:
        request_id = str(uuid.uuid4())
    source = RequestSource(
        bot_id=caller.bot_id or (src.bot_id if src else None),
        group_id=group_id,
        message_id=message_id,
    )
    alarm = emergency_said(body)
    deps: ApiDeps = request.app.state.deps
    try:
        spec = spec_from(body, request_id, source, alarm)
    except ValueError as exc:
        if caller.bot is not None:
            charge_bot(deps.limiter, caller.bot)  # a refused request is ordinary traffic
        raise fail(422, "invalid_request", str(exc)) from exc
    charge = charge_caller(deps, caller.bot, spec, alarm) if caller.bot is not None else None
    key = idempotency_key or (f"msg:{group_id or ''}:{message_id}" if message_id else None)
    return await submit_once(
        request,
        spec,
        bot_id=owner,
        idempotency_key=key,
        payload=body.model_dump(mode="json"),
        advice=alarm.advice if alarm else None,
        merge=caller.kind == "bot",
        webhook=caller.deferred,  # claimed in the intake statement: nothing is written before
        charge=charge,
    )


def submitter(caller: Caller) -> str:
    """Whose keys and request ids: the bot, or the staff account (`staff:<name>`). All
    accounts once shared "staff": a key one account used was refused (422) or, after its
    day, taken (an earlier request's id) for another. The break-glass token keeps "staff"
    (its keys and requests made before stay its own)."""
    if caller.bot_id is not None:
        return caller.bot_id
    account = caller.staff
    if account is None or account.name == TOKEN_ACCOUNT:
        return "staff"
    return f"staff:{account.name}"


def charge_caller(
    deps: ApiDeps, bot: BotConfig, spec: RequestSpec, alarm: Classification | None
) -> Callable[[], None] | None:
    """The bot's rate limit, once the request is read (`submitting_caller` did not charge
    it). An ordinary request is charged now, before its intake statement claims its
    webhook-id, as every signed route is (the limit bounds what reaches PostgreSQL). A
    life-threatening one (by the spec's own rule, `RequestSpec.is_life_threatening`: the
    bot's `life_threatening`, a red flag in its text, or critical urgency in a kind where
    life is at risk) draws on the bot's emergency allowance only, never waiting behind
    ordinary traffic, and in the one intake statement, no round trip more: the allowance
    is only looked at now (beyond it: 429 carrying the call-now reply to post, never a bare
    429, nothing claimed or written), and the returned charge takes its token once the
    statement took the request in (`submit_once`). A replay (409 in the statement) or a
    retry answered with its first answer charges nothing, so replaying one captured
    emergency cannot spend the allowance. Concurrent emergencies may all find the last
    token and overshoot the allowance by the few in flight (owed, repaid from the next
    tokens: `RateLimiter.take_owing`): it is a flood guard, not a quota."""
    if not spec.is_life_threatening():
        charge_bot(deps.limiter, bot)
        return None
    wait = emergency_peek(deps.limiter, bot, "requests")
    if wait:
        raise over_allowance(alarm.advice if alarm else None, spec.emergency(), wait)
    return lambda: charge_emergency(deps.limiter, bot)


async def community_of_request(deps: ApiDeps, request_id: str) -> str:
    """From our intake table (no read-model lag), else the read model (staff-made ones)."""
    pool = await deps.pool()
    community = await intake.community_of(pool, request_id) or await read_requests.community_of(
        pool, request_id
    )
    if community is None:
        raise fail(404, "unknown_request", "no such request (yet): retry in a moment")
    return community


def _status_out(row: dict[str, Any]) -> RequestStatusOut:
    def wire(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime) else v

    fields = RequestStatusOut.model_fields  # a row without an optional one: its default
    out = RequestStatusOut(**{name: wire(row[name]) for name in fields if name in row})
    if out.referred_department:  # typed by staff: phones and numbers masked (older rows too)
        out = out.model_copy(update={"referred_department": masked(out.referred_department)})
    if out.status != "open" or not row.get("pause_ahead"):  # a pause ends, or its request
        out = out.model_copy(update={"paused_until": None, "paused_local": None})
    if out.status != "open" or out.held_until is None:
        return out.model_copy(update={"held_until": None})  # a hold ends with the request
    return out.model_copy(update={"status": "held"})


@router.get(
    "/{request_id}",
    response_model=RequestStatusOut,
    responses={404: {"description": "Unknown, or not recorded yet"}},
)
async def request_status(
    request: Request,
    request_id: RequestId,
    caller: BotOrStaff,
) -> RequestStatusOut:
    """The request's latest recorded status (the read model lags the stream by milliseconds).
    A bot signs `GET <path>` and a newline (no body). No personal data in the answer. A
    merged report's own id (`report_id` of its 202) answers the status of the request it
    was merged into (`merged: true`, `request_id` that request's); before, 404."""
    deps: ApiDeps = request.app.state.deps
    pool = await deps.pool()
    row = await read_requests.status(pool, request_id)
    if row is not None:
        ensure_community(caller, row["community_id"])
        return _status_out(row).model_copy(update={"report_id": request_id})
    community = await intake.community_of(pool, request_id)
    if community is None:
        report = await intake.co_report(pool, request_id)
        if report is not None:
            return await _merged_status(caller, pool, request_id, report)
        community = await community_of_request(deps, request_id)  # staff-made, or 404
    ensure_community(caller, community)
    raise fail(404, "not_recorded_yet", "queued but not recorded yet: retry in a moment")


async def _merged_status(
    caller: Caller, pool: asyncpg.Pool, report_id: str, report: intake.CoReport
) -> RequestStatusOut:
    """A merged report never becomes a request of its own: its status is its request's,
    seen by the callers who may see a request of its community, as any status is."""
    ensure_community(caller, report.community_id)
    row = await read_requests.status(pool, report.request_id)
    if row is None:  # its request's command still on its way to the worker
        raise fail(404, "not_recorded_yet", "queued but not recorded yet: retry in a moment")
    ensure_community(caller, row["community_id"])  # the same community (the merge key's)
    return _status_out(row).model_copy(update={"report_id": report_id, "merged": True})


async def _request_command(
    request: Request, caller: Caller, path_id: str, body_id: str, build: Any
) -> CommandAccepted:
    if path_id != body_id:
        raise fail(422, "id_mismatch", "request_id in the path and the body differ")
    deps: ApiDeps = request.app.state.deps
    pool = await deps.pool()
    community = await intake.community_of(pool, path_id)
    if community is None:
        report = await intake.co_report(pool, path_id)
        if report is not None:
            return _withdraw(caller, report)
        community = await community_of_request(deps, path_id)
    ensure_community(caller, community)
    if caller.bot is not None and not caller.bot.may_close_others:
        # A bot of the same community must not cancel or resolve someone else's request
        # (another group's robot, or one staff opened) unless configured to.
        owner = await intake.submitted_by(pool, path_id)
        if owner != caller.bot.bot_id:
            raise fail(403, "not_your_request", "this request was not submitted by this bot")
    by = Party.STAFF if caller.kind == "staff" else Party.REQUESTER
    body = seal_closing(keyring(deps.settings), build(by))  # the reason or note: sealed
    return CommandAccepted(command_id=await send_command(deps, body, community))


def _withdraw(caller: Caller, report: intake.CoReport) -> CommandAccepted:
    """A merged report's own id (`report_id` of its answer) cancelled or resolved: that
    report is withdrawn, nothing is sent. The request it was merged into is another
    reporter's (the same incident, maybe another group's): it goes on; its own id cancels
    it, for its own submitter. Before, a merged answer gave only that id, and a co-reporter's
    "不用了" cancelled the request the first reporter still waited on."""
    ensure_community(caller, report.community_id)
    bot = caller.bot
    # A report with no bot recorded (`bot_id` NULL: merged by an API before migration 0409)
    # is nobody's to withdraw but staff's and a may_close_others bot's: that API never
    # answered with a report's own id, and the id is no secret (derived from the bot, group
    # and message ids), so holding it proves nothing. Before, any bot of the community could.
    if bot is not None and report.bot_id != bot.bot_id and not bot.may_close_others:
        raise fail(403, "not_your_request", "this report was not submitted by this bot")
    log.info("co-report withdrawn over the API (merged into another request): nothing sent")
    return CommandAccepted(command_id=None, status="withdrawn", withdrawn=True)


@router.post("/{request_id}/cancel", status_code=202, response_model=CommandAccepted)
async def cancel_request(
    body: CancelIn,
    request: Request,
    request_id: RequestId,
    caller: BotOrStaff,
) -> CommandAccepted:
    """Cancel: by the requester (a bot on their behalf) or staff. Helpers are stood down."""
    return await _request_command(
        request,
        caller,
        request_id,
        body.request_id,
        lambda by: CancelRequest(request_id=request_id, by=by, reason=body.reason),
    )


@router.post("/{request_id}/resolve", status_code=202, response_model=CommandAccepted)
async def resolve_request(
    body: ResolveIn,
    request: Request,
    request_id: RequestId,
    caller: BotOrStaff,
) -> CommandAccepted:
    """Resolved (helped), with an optional 1–5 rating from the requester."""
    return await _request_command(
        request,
        caller,
        request_id,
        body.request_id,
        lambda by: ResolveRequest(request_id=request_id, by=by, rating=body.rating, note=body.note),
    )
