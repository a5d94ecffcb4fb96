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
credential: 144 random bits; an unknown one is 404 and nothing is sent.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from dispatcher.api.admin import LEDGER_TYPES, import_failures
from dispatcher.api.auth import ensure_staff_scope, require_staff
from dispatcher.api.chat_spec import property_concern
from dispatcher.api.classifying import classify_off_loop
from dispatcher.api.command_queue import submit_once
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.household_import import HouseholdReport, import_households
from dispatcher.api.models import Accepted
from dispatcher.api.pages import button_form, e, page
from dispatcher.core.households import household_urgency
from dispatcher.record.edge import households as edge
from dispatcher.roster.ledger import RosterFileError, RosterPlace
from dispatcher.roster.sandbox import parse_households_async
from schemas.catalogue import CATALOGUE, entry, label_zh
from schemas.requests import RequesterContact, RequestSource, RequestSpec
from schemas.vocab import Category

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
    """The card's page: one button per common need; no personal data on it."""
    if (await _household(request, token)).retired:
        return _retired(json_body=False)
    buttons = "".join(
        button_form(f"/card/{token}?category={c.value}", label, second=i > 0)
        for i, (c, label) in enumerate(BUTTONS)
    )
    return page(
        "一户一联络卡",
        '<p class="note">按一下，您的结对邻居和楼里的邻居就会收到通知。'
        f"危急情况请先拨打120。</p>{buttons}",
    )


class CardRequestIn(BaseModel):
    category: Category | None = None  # a button; else the classifier reads `text`
    text: str = Field(default="", max_length=500)


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
    JSON `{"category", "text"}`, or the card page's form (`?category=`)."""
    found = await _household(request, token)
    deps: ApiDeps = request.app.state.deps
    # A card is pressed a few times at most: a leaked link cannot flood the neighbours.
    deps.limiter.check(("card", token), 6, 3, "card")
    json_body = request.headers.get("content-type", "").startswith("application/json")
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
    answer = await submit_once(
        request,
        spec,
        bot_id=CARD_BOT,
        idempotency_key=None,
        payload=None,
        advice=alarm.advice if alarm else None,
        merge=True,
    )
    if json_body:
        return answer
    return page(
        "已通知邻居",
        f"<p>已通知您的结对邻居（{e(label_zh(what.category.value))}），请保持电话畅通。</p>"
        '<p class="note">危急情况请立即拨打120。</p>',
        status_code=202,
    )
