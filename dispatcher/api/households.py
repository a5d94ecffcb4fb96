"""Households and the contact card (一户一联络卡).

Staff import the household ledger (`POST /v1/admin/communities/{c}/households`, CSV or
XLSX, or `python -m dispatcher households import`; dispatcher/api/household_import.py):
each household's place, vulnerability tags and contact go to the `households` edge table
with a card token printed on the household's card; its 结对 helpers (by 电话 or 编号)
are paired through the commands topic (`PairHousehold`). A household a re-import no
longer lists is retired: its card answers 410 and says so.

The card (`GET /card/{token}`: three big buttons; `POST /card/{token}`, a form or JSON
`{"category": "fall", "text": "..."}`) becomes a request with the household known
(`requester_household_id`): its paired helpers are asked first, and its tags raise the
urgency where that is right (`dispatcher.core.households`). The token is the only
credential: 144 random bits; an unknown one is 404 and nothing is sent. Presses are counted
per kind of need; one where life may be at risk draws on the card's emergency allowance
only. The form's answer is a page built from the intake's answer (never "notified" when
the request is held or merged, 结对 only where the household has paired helpers), and its
refusals are pages in Chinese saying what to do (120 first where life may be at risk).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from dispatcher.api.admin import LEDGER_TYPES, import_failures
from dispatcher.api.auth import DB_UNAVAILABLE, ensure_staff_scope, require_staff
from dispatcher.api.chat_spec import property_concern
from dispatcher.api.classifying import classify_off_loop
from dispatcher.api.command_queue import database_unavailable, submit_once
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.household_import import HouseholdReport, import_households
from dispatcher.api.models import Accepted
from dispatcher.api.pages import button_form, e, page
from dispatcher.api.ratelimit import with_advice
from dispatcher.core.households import household_urgency
from dispatcher.record.db import Db
from dispatcher.record.edge import households as edge
from dispatcher.roster.ledger import RosterFileError, RosterPlace
from dispatcher.roster.sandbox import parse_households_async
from schemas.catalogue import CATALOGUE, CategoryEntry, entry, label_zh
from schemas.requests import RequesterContact, RequestSource, RequestSpec
from schemas.vocab import Category, EmergencyNumber

log = logging.getLogger(__name__)

admin = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_staff)])
card = APIRouter(tags=["contact card"])

Id = Annotated[str, Path(min_length=1, max_length=64)]
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
CARD_BOT = "card"  # the intake's submitter for card requests (idempotency and merge scope)
# The card's buttons: what a household most often needs, one press each (the catalogue's).
BUTTONS = [(e.category, e.card_button) for e in CATALOGUE.values() if e.card_button]


def ledger_place(
    community_id: Id,
    compound_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    compound_name: Annotated[str | None, Query(max_length=64)] = None,
    grid_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> RosterPlace:
    """The file's own compound and grid, for rows without a 小区 / 网格 cell."""
    return RosterPlace(community_id, compound_id, compound_name, grid_id)


@admin.post(
    "/communities/{community_id}/households",
    response_model=HouseholdReport,
    responses={422: {"model": HouseholdReport, "description": "Rows rejected: nothing imported"}},
    openapi_extra={"requestBody": {"required": True, "content": LEDGER_TYPES}},
)
async def import_households_route(
    community_id: Id,
    request: Request,
    where: Annotated[RosterPlace, Depends(ledger_place)],
    partial: bool = False,
    dry_run: bool = False,
    retire: bool = True,
) -> JSONResponse:
    """Import a household ledger (CSV in UTF-8 or GBK, or XLSX; first sheet): 楼栋, 户号
    and 小区 (or `compound_id`) required; 单元, 户主/姓名, 电话, 地址, 标签 (独居、高龄、
    失能、孤寡、残疾、慢病), 年龄 (85+), 结对 (paired helpers' 电话 or 编号) optional. Read
    like the helper ledger: in a child process with limits; a cell holding a formula or a
    NUL rejects its row. With a rejected row nothing is imported unless `partial=true`;
    `dry_run=true` only checks. Households an earlier ledger listed in the same compounds
    and this one does not are retired (`retired`; their card stops making requests),
    unless a row was rejected or `retire=false`. Answers each household's card link."""
    ensure_staff_scope(request, community_id)
    try:
        parsed = await parse_households_async(await request.body(), where)
    except RosterFileError as exc:
        raise fail(422, "unreadable_ledger", str(exc)) from exc
    deps: ApiDeps = request.app.state.deps
    with import_failures("pairing"):
        report = await import_households(
            deps.settings,
            deps.sink,
            await deps.pool(),
            parsed,
            community_id=community_id,
            partial=partial,
            now=deps.clock(),
            dry_run=dry_run,
            retire=retire,
        )
    failed = bool(report.rejected) and not report.committed and not dry_run
    return JSONResponse(report.model_dump(mode="json"), status_code=422 if failed else 200)


async def _household(request: Request, token: str) -> edge.CardHousehold:
    deps: ApiDeps = request.app.state.deps
    found = await edge.by_card(await deps.pool(), token)
    if found is None:
        raise fail(404, "unknown_card", "no such contact card")
    return found


RETIRED_ZH = "这张联络卡已停用：住户已不在社区台账中。需要帮助请联系社区，危急情况请拨打120。"


def _retired(json_body: bool) -> HTMLResponse:
    """The household left the ledger (a re-import retired it): say so, send nothing."""
    if json_body:
        raise fail(410, "retired_card", f"{RETIRED_ZH} (This contact card is no longer in use.)")
    return page("联络卡已停用", f"<p>{e(RETIRED_ZH)}</p>", status_code=410)


@card.get("/card/{token}", response_class=HTMLResponse, include_in_schema=False)
async def card_page(token: Token, request: Request) -> HTMLResponse:
    """The card's page: one button per common need; no personal data on it. It names the
    结对 neighbours only where the household has some."""
    found = await _household(request, token)
    if found.retired:
        return _retired(json_body=False)
    buttons = "".join(
        button_form(f"/card/{token}?category={c.value}", label, second=i > 0)
        for i, (c, label) in enumerate(BUTTONS)
    )
    who = "您的结对邻居和附近的邻居" if found.paired_helper_ids else "楼里和附近的邻居"
    return page(
        "一户一联络卡",
        f'<p class="note">按一下，{who}就会收到您的求助。危急情况请先拨打120。</p>{buttons}',
    )


class CardRequestIn(BaseModel):
    category: Category | None = None  # a button; else the classifier reads `text`
    text: str = Field(default="", max_length=500)


# A card is pressed a few times at most: a leaked link cannot flood the neighbours. Counted
# per kind of need: presses of one need merge into one request, and an errand pressed three
# times must not use up the presses of 摔倒了.
CARD_RATE_PER_MINUTE, CARD_BURST = 6, 3
# A press where life may be at risk (life-threatening by `RequestSpec.is_life_threatening`,
# or of a kind where life is at risk: 摔倒, 身体不适) never waits behind those: it draws on
# the card's emergency allowance only, as a bot's life-threatening request draws on the bot's
# (`requests.charge_caller`): looked at first, taken once the request is taken in. It bounds
# what a leaked link could raise in fake emergencies; beyond it the answer tells the
# household to call 120 now and nothing is sent.
CARD_EMERGENCY_PER_MINUTE, CARD_EMERGENCY_BURST = 30, 10


@card.post(
    "/card/{token}",
    status_code=202,
    response_model=Accepted,
    responses={404: {"description": "Unknown card"}},
)
async def card_request(
    token: Token,
    request: Request,
    category: Annotated[Category | None, Query()] = None,
) -> Any:
    """A household asks for help through its card: a request with the household known,
    its paired helpers asked first, its urgency raised by its tags where that is right.
    JSON `{"category", "text"}` (the answer as a bot's), or the card page's form
    (`?category=`): a page in Chinese built from that same answer (held for quiet hours,
    merged into an earlier press, the call-now advice), and a refusal (unknown card, too
    many presses, an outage) a page saying what to do, never JSON."""
    json_body = request.headers.get("content-type", "").startswith("application/json")
    if json_body:
        return await _card_request(token, request, category, json_body=True)
    try:
        return await _card_request(token, request, category, json_body=False)
    except HTTPException as exc:
        return _refused_page(exc, entry(category) if category else None)
    except DB_UNAVAILABLE as exc:
        return _refused_page(database_unavailable(exc), entry(category) if category else None)


async def _card_request(
    token: str, request: Request, category: Category | None, *, json_body: bool
) -> Response:
    found = await _household(request, token)
    deps: ApiDeps = request.app.state.deps
    if found.retired:
        return _retired(json_body)
    if json_body:
        try:
            body = CardRequestIn.model_validate_json(await request.body())
        except ValueError as exc:
            raise fail(422, "invalid_request", "category and text (at most 500)") from exc
    else:
        body = CardRequestIn(category=category)
    household = found.household
    said = (
        await classify_off_loop(body.text, deps.settings.classify_timeout_seconds)
        if body.text
        else None
    )
    if said is not None and not said.is_request:
        said = None
    what = entry(body.category or (said.category if said and said.category else Category.OTHER))
    # The words' urgency when they say it is a request (a red flag is critical), else the
    # category's; then the household's tags raise it where that is right.
    base = said.urgency if said is not None else what.urgency
    urgency, _why = household_urgency(what.category, base, household.tags)
    # A red flag in the words ("着火了", even under the errand button) is the classifier's
    # verdict, as for a chat message: call that number now (its advice), neighbours coming.
    alarm = said if said is not None and said.advise_emergency_call else None
    spec = RequestSpec(
        request_id=str(uuid.uuid4()),
        community_id=household.community_id,
        place=household.place,
        category=what.category,
        urgency=urgency,
        skills=what.skills,
        helpers_needed=what.helpers,
        text=body.text or f"联络卡：{label_zh(what.category.value)}",
        contact=RequesterContact(
            name=household.name, phone=household.phone, address=household.address
        ),
        requester_household_id=household.household_id,
        life_threatening=True if alarm else None,
        emergency_number=alarm.emergency_number if alarm else None,
        notify_property=property_concern(what.category, urgency, said),
        source=RequestSource(bot_id=CARD_BOT),
    )
    advice = alarm.advice if alarm else None
    answer = await submit_once(
        request,
        spec,
        bot_id=CARD_BOT,
        idempotency_key=None,
        payload=None,
        advice=advice,
        merge=True,
        charge=_charge(deps, token, spec, advice),
    )
    if json_body:
        return answer
    return _answer_page(answer, what, paired=bool(found.paired_helper_ids))


async def with_ledger_contact(pool: Db, spec: RequestSpec, household_id: str | None) -> RequestSpec:
    """A chat sender the bot's member map ties to a household (`household_id`): what the
    message left out of the contact (name, phone, address) filled from the household
    ledger, as a card's request has it, so the helper who accepts can call them. Sealed
    with the rest of the contact by the intake; never logged."""
    if household_id is None:
        return spec
    ledger = await edge.contact_of(pool, spec.community_id, household_id)
    if not ledger:
        return spec
    have = spec.contact
    contact = RequesterContact(
        name=have.name or ledger.get("name"),
        phone=have.phone or ledger.get("phone"),
        address=have.address or ledger.get("address"),
    )
    return spec.model_copy(update={"contact": contact})


def _at_risk(spec: RequestSpec) -> bool:
    return spec.is_life_threatening() or entry(spec.category).life_at_risk


def _call_number(spec: RequestSpec) -> EmergencyNumber:
    return spec.emergency() or entry(spec.category).emergency or EmergencyNumber.AMBULANCE


def _charge(
    deps: ApiDeps, token: str, spec: RequestSpec, advice: str | None
) -> Callable[[], None] | None:
    """The card's allowance: an ordinary press is charged now, per kind of need (429 when
    over); one where life may be at risk only looks at the emergency allowance now (beyond
    it: 429 carrying the call-now reply, nothing sent) and takes its token once taken in."""
    if not _at_risk(spec):
        per_need = ("card", token, spec.category.value)
        deps.limiter.check(per_need, CARD_RATE_PER_MINUTE, CARD_BURST, "card")
        return None
    key = ("card-emergency", token)
    wait = deps.limiter.peek(key, CARD_EMERGENCY_PER_MINUTE, CARD_EMERGENCY_BURST)
    if wait > 0:
        log.critical(
            "a contact card is over its emergency allowance (%s/min, burst %s): the household "
            "was told to call now, nobody dispatched; is its link leaked?",
            CARD_EMERGENCY_PER_MINUTE,
            CARD_EMERGENCY_BURST,
        )
        refusal = fail(
            429,
            "emergency_rate_limited",
            "over this card's emergency allowance: nothing dispatched; call now",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )
        raise with_advice(refusal, advice, _call_number(spec))
    return lambda: deps.limiter.take_owing(key, CARD_EMERGENCY_PER_MINUTE, CARD_EMERGENCY_BURST)


def _call_now(number: EmergencyNumber, words: str | None) -> str:
    """A big call button (`tel:`), under the words saying when to call."""
    said = f"<p><strong>{e(words)}</strong></p>" if words else ""
    return f'{said}<a class="tel" href="tel:{number.value}">拨打{number.value}</a>'


def _answer_page(answer: Response, what: CategoryEntry, *, paired: bool) -> HTMLResponse:
    """What the household is told: the answer's own reply (held for quiet hours until
    HH:MM, merged into an earlier press, the call-now advice first where the request is
    life-threatening), never more than it says; 结对 only where the household has some."""
    told = json.loads(bytes(answer.body))
    parts = [
        f"<p>{e(told['reply_text'])}</p>",
        f'<p class="note">求助内容：{e(label_zh(what.category.value))}</p>',
    ]
    if paired and not told.get("merged"):
        parts.append("<p>您的结对邻居会最先收到通知。</p>")
    if told.get("advise_emergency_call") and told.get("emergency_number"):
        parts.insert(0, _call_now(EmergencyNumber(told["emergency_number"]), None))
    elif what.life_at_risk:
        number = what.emergency or EmergencyNumber.AMBULANCE
        words = CATALOGUE[what.category].call_when_zh.format(n=number.value)
        parts.insert(0, _call_now(number, words))
    else:
        parts.append('<p class="note">危急情况请立即拨打120。</p>')
    return page("已收到求助", "".join(parts), status_code=answer.status_code)


def _refused_page(exc: HTTPException, what: CategoryEntry | None) -> HTMLResponse:
    """A press that sent nothing, said in Chinese with what to do: call now first where
    life may be at risk, then press again later or ask the community."""
    detail: dict[str, Any] = exc.detail if isinstance(exc.detail, dict) else {}
    wait = (exc.headers or {}).get("Retry-After")
    title = "求助没有发出"
    if exc.status_code == 404:
        title = "联络卡无法识别"
        said = "这张联络卡无法识别，求助没有发出。请联系社区重新领取联络卡。"
    elif exc.status_code == 429:
        said = (
            "这张卡刚刚已按过多次，这一次没有再发出（之前发出的求助仍在处理）。"
            f"还需要帮助，请{wait or 60}秒后再按一次，或联系社区。"
        )
    elif exc.status_code == 503:
        said = f"系统暂时繁忙，这一次求助没有发出。请{wait or 5}秒后再按一次，或联系社区。"
    else:
        said = "这一次求助没有发出。请再按一次，或联系社区。"
    parts = [f"<p>{e(said)}</p>"]
    if "reply_text" in detail:  # the call-now reply of a life-threatening press
        number = EmergencyNumber(detail.get("emergency_number") or EmergencyNumber.AMBULANCE)
        parts.insert(0, _call_now(number, str(detail["reply_text"])))
    elif what is not None and what.life_at_risk:
        number = what.emergency or EmergencyNumber.AMBULANCE
        words = CATALOGUE[what.category].call_when_zh.format(n=number.value)
        parts.insert(0, _call_now(number, words))
    else:
        parts.append('<p class="note">危急情况请立即拨打120。</p>')
    refused = page(title, "".join(parts), tone="bad", status_code=exc.status_code)
    if wait is not None:
        refused.headers["Retry-After"] = wait
    return refused
