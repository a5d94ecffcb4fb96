"""`/l/me`: answer offers posted into a chat group, as the helper this phone is bound to.

Group robots post to everyone in the group, so their offers carry no per-helper link (a
forwarded or copied link would act for someone else). A helper's phone is bound once by
opening the helper's private personal link (helper_pages.py sets the cookie); here it
lists that helper's open offers and answers them. Without a binding nothing is shown.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from dispatcher.api import offer_outcomes as oo
from dispatcher.api.deps import ApiDeps
from dispatcher.api.offer_outcomes import use_for
from dispatcher.api.offer_pages import act_on_offer
from dispatcher.api.pages import URGENCY_ZH, button_form, e, page
from dispatcher.links import ANSWER_PATH, DEVICE_COOKIE, bound_helper
from dispatcher.record.read.offers import open_offers
from schemas.catalogue import label_zh

router = APIRouter(prefix=ANSWER_PATH, tags=["volunteer links"])
OfferId = Annotated[str, Path(min_length=1, max_length=128)]

NOT_BOUND = (
    "<p>这部手机还没有绑定。请先打开社区工作人员私信发给您的个人链接（只需一次），"
    "再回到这里回复群里的求助。</p>"
)


def _helper(request: Request) -> tuple[str, str] | None:
    deps: ApiDeps = request.app.state.deps
    return bound_helper(deps.settings, request.cookies.get(DEVICE_COOKIE), deps.clock())


@router.get("", response_class=HTMLResponse)
async def my_offers(request: Request) -> HTMLResponse:
    """The bound helper's open offers, each with its two buttons."""
    bound = _helper(request)
    if bound is None:
        return page("请先绑定手机", NOT_BOUND, tone="warn", status_code=401)
    deps: ApiDeps = request.app.state.deps
    offers = await open_offers(await deps.pool(), bound[0])
    if not offers:
        return page("我的邀请", "<p>现在没有等您回复的求助。谢谢您！</p>")
    items = "".join(
        f"<section><p>{e(label_zh(o.category))}·"
        f"{e(URGENCY_ZH.get(o.urgency, o.urgency))}·{e(o.building_label or '')}</p>"
        + button_form(f"{ANSWER_PATH}/offers/{o.offer_id}/accept", "我可以去帮忙")
        + button_form(f"{ANSWER_PATH}/offers/{o.offer_id}/decline", "这次去不了", second=True)
        + "</section>"
        for o in offers
    )
    return page("我的邀请", items)


@router.post("/offers/{offer_id}/{action}", response_class=HTMLResponse)
async def answer(
    request: Request, offer_id: OfferId, action: Literal["accept", "decline"]
) -> HTMLResponse:
    """Accept or decline an offer made to the bound helper (to nobody else)."""
    bound = _helper(request)
    if bound is None:
        return page("请先绑定手机", NOT_BOUND, tone="warn", status_code=401)
    helper_id, community_id = bound
    deps: ApiDeps = request.app.state.deps
    recorded = await oo.recorded_use(await deps.pool(), f"{action}:{offer_id}")
    if recorded is not None:  # answered before: the recorded outcome, to its helper only
        if recorded.helper_id != helper_id:
            return _not_yours()
        request_id = recorded.request_id
    else:
        offers = await open_offers(await deps.pool(), helper_id, offer_id)
        if not offers:
            return _not_yours()
        request_id = offers[0].request_id
    use = use_for(action, request_id, offer_id, helper_id)
    return await act_on_offer(request, use, community_id)


def _not_yours() -> HTMLResponse:
    body = "<p>这条邀请不是给您的，或已不再需要回复。</p>"
    return page("无需操作", body, tone="warn", status_code=404)
