"""Households and the contact card (一户一联络卡).

Staff import the household ledger (`POST /v1/admin/communities/{c}/households`, CSV):
each household's place, vulnerability tags and contact go to the `households` edge table
with a card token printed on the household's card; its 结对 helpers (by 电话 or 编号)
are paired through the commands topic (`PairHousehold`).

The card (`GET /card/{token}`: three big buttons; `POST /card/{token}`, a form or JSON
`{"category": "fall", "text": "..."}`) becomes a request with the household known
(`requester_household_id`): its paired helpers are asked first, and its tags raise the
urgency where that is right (`dispatcher.core.households`). The token is the only
credential: 144 random bits; an unknown one is 404 and nothing is sent.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from dispatcher.api.auth import ensure_staff_scope, require_staff
from dispatcher.api.classifying import classify_off_loop
from dispatcher.api.command_queue import submit_once
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.models import Accepted
from dispatcher.api.pages import button_form, e, page
from dispatcher.api.roster_import import send_commands
from dispatcher.core.households import household_urgency
from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.record.edge import households as edge
from dispatcher.roster.cells import PHONE
from dispatcher.roster.households import ParsedHouseholds, parse_households
from dispatcher.roster.ledger import RosterFileError, RosterPlace
from dispatcher.roster.report import CellProblem, RowProblem
from dispatcher.sealing import keyring, seal_pairing
from schemas.catalogue import CATALOGUE, entry, label_zh
from schemas.commands import PairHousehold
from schemas.requests import RequesterContact, RequestSource, RequestSpec
from schemas.vocab import Category

admin = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_staff)])
card = APIRouter(tags=["contact card"])

Id = Annotated[str, Path(min_length=1, max_length=64)]
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
CARD_BOT = "card"  # the intake's submitter for card requests (idempotency and merge scope)
# The card's buttons: what a household most often needs, one press each (the catalogue's).
BUTTONS = [(e.category, e.card_button) for e in CATALOGUE.values() if e.card_button]


class CardLink(BaseModel):
    household_id: str
    card_path: str = Field(description="print as a link or QR code on the household's card")


class HouseholdReport(BaseModel):
    rows: int
    imported: int = 0
    rejected: list[RowProblem] = Field(default_factory=list)
    cells: list[CellProblem] = Field(default_factory=list)
    tagged: int = 0  # households with at least one vulnerability tag
    pairings: int = 0  # PairHousehold commands queued
    cards: list[CardLink] = Field(default_factory=list)
    committed: bool = False


def ledger_place(
    community_id: Id,
    compound_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    compound_name: Annotated[str | None, Query(max_length=64)] = None,
    grid_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> RosterPlace:
    """The file's own compound and grid, for rows without a 小区 / 网格 cell."""
    return RosterPlace(community_id, compound_id, compound_name, grid_id)


def helper_ref_id(deps: ApiDeps, community_id: str, ref: str) -> str:
    """A 结对 cell's helper: a phone becomes the keyed id the helper ledger gave them; an
    编号 is the id itself."""
    phone = re.sub(r"[\s-]", "", ref)
    if PHONE.match(phone):
        return keyed_helper_id(id_key(deps.settings), community_id, phone)
    return ref


@admin.post(
    "/communities/{community_id}/households",
    response_model=HouseholdReport,
    responses={422: {"model": HouseholdReport, "description": "Rows rejected: nothing imported"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_households(
    community_id: Id,
    request: Request,
    where: Annotated[RosterPlace, Depends(ledger_place)],
    partial: bool = False,
) -> JSONResponse:
    """Import a household ledger (CSV, UTF-8 or GBK): 楼栋, 户号 and 小区 (or `compound_id`)
    required; 单元, 户主/姓名, 电话, 地址, 标签 (独居、高龄、失能、孤寡、残疾、慢病), 年龄
    (85+), 结对 (paired helpers' 电话 or 编号) optional. With a rejected row nothing is
    imported unless `partial=true`. Answers each household's card link."""
    ensure_staff_scope(request, community_id)
    try:
        parsed = parse_households(await request.body(), where)
    except RosterFileError as exc:
        raise fail(422, "unreadable_ledger", str(exc)) from exc
    deps: ApiDeps = request.app.state.deps
    report = await _import(deps, community_id, parsed, partial)
    failed = bool(report.rejected) and not report.committed
    return JSONResponse(report.model_dump(mode="json"), status_code=422 if failed else 200)


async def _import(
    deps: ApiDeps, community_id: str, parsed: ParsedHouseholds, partial: bool
) -> HouseholdReport:
    report = HouseholdReport(rows=parsed.rows, rejected=parsed.problems, cells=parsed.cells)
    if (parsed.problems and not partial) or not parsed.households:
        return report
    listed = [
        (h.household, [helper_ref_id(deps, community_id, ref) for ref in h.paired_refs])
        for h in parsed.households
    ]
    ring = keyring(deps.settings)  # households travel keyed, like the requests' places
    pairings = [
        seal_pairing(ring, community_id, PairHousehold(helper_id=h, household_id=hh.household_id))
        for hh, helpers in listed
        for h in dict.fromkeys(helpers)
    ]
    now = deps.clock()
    # Pairings first: a card that works before its helpers are paired would skip them.
    report.pairings = await send_commands(deps.settings, deps.sink, community_id, pairings, now)
    tokens = await edge.record(await deps.pool(), listed, now)
    report.imported = len(listed)
    report.tagged = sum(1 for h, _ in listed if h.tags)
    report.cards = [
        CardLink(household_id=h.household_id, card_path=f"/card/{tokens[h.household_id]}")
        for h, _ in listed
    ]
    report.committed = True
    return report


async def _household(request: Request, token: str) -> edge.CardHousehold:
    deps: ApiDeps = request.app.state.deps
    found = await edge.by_card(await deps.pool(), token)
    if found is None:
        raise fail(404, "unknown_card", "no such contact card")
    return found


@card.get("/card/{token}", response_class=HTMLResponse, include_in_schema=False)
async def card_page(token: Token, request: Request) -> HTMLResponse:
    """The card's page: one button per common need; no personal data on it."""
    await _household(request, token)
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
        source=RequestSource(bot_id=CARD_BOT),
    )
    answer = await submit_once(
        request, spec, bot_id=CARD_BOT, idempotency_key=None, payload=None, merge=True
    )
    if json_body:
        return answer
    return page(
        "已通知邻居",
        f"<p>已通知您的结对邻居（{e(label_zh(what.category.value))}），请保持电话畅通。</p>"
        '<p class="note">危急情况请立即拨打120。</p>',
        status_code=202,
    )
