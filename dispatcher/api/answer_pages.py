"""`/l/me`: answer offers posted into a chat group, as the helper who opens it.

Group robots post to everyone in the group, so their offers carry no per-helper link (a
forwarded or copied link would act for someone else); they link here, naming only the
group's community (`?c=`). Who is looking is one of:

- the chat platform's in-app login, where the community has one (platform_login/):
  opening the page inside WeCom / DingTalk / Feishu goes through the platform's OAuth, and
  the roster's helper with that platform account (平台账号) is signed in;
- the phone bound once by opening the helper's private personal link (helper_pages.py).

The page lists that helper's open offers; answering one needs the same identity, and acts
only on that helper's offers. Without an identity nothing is shown. Each offer names its place
as its push does (`place_label`): no flat, whatever the request's stored label holds.

It also lists the requests the helper holds (accepted, not given back, not done; the request
open or kept by a referral to 120/110/119), each linking to its assignment page (the
contact, 我在路上 / 去不了了 / 已完成, behind that page's own checks): a helper reached only
through a group has no private message to find them again. A press's address opened again
(the "confirming" page's refresh, the address bar) shows what became of that answer to the
helper who gave it (`answered`), else sends the browser here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatcher.api import offer_outcomes as oo
from dispatcher.api.assignment_pages import PROGRESS_LINK_LIFETIME, progress_token
from dispatcher.api.deps import ApiDeps
from dispatcher.api.offer_binding import bound_phone
from dispatcher.api.offer_outcomes import use_for
from dispatcher.api.offer_pages import act_on_offer, answered_page
from dispatcher.api.pages import URGENCY_ZH, button_form, e, page
from dispatcher.api.platform_login import gate, tokens
from dispatcher.links import ANSWER_PATH, OFFER_PATH, answer_path
from dispatcher.push.places import place_label
from dispatcher.record.read.held_requests import HeldRequest, held_by
from dispatcher.record.read.offers import open_offers
from schemas.catalogue import label_zh

router = APIRouter(prefix=ANSWER_PATH, tags=["volunteer links"])
OfferId = Annotated[str, Path(min_length=1, max_length=128)]
Community = Annotated[
    str | None, Query(alias="c", min_length=1, max_length=64, description="The group's community")
]

NOT_BOUND = (
    "<p>这部手机还没有绑定。请在聊天软件（企业微信、钉钉、飞书）中打开群消息里的链接，"
    "或先打开社区工作人员私信发给您的个人链接（只需一次），再回到这里回复群里的求助。</p>"
)


@dataclass(frozen=True)
class Helper:
    helper_id: str
    community_id: str
    by_login: bool  # the platform vouched for them (else: the bound phone)


async def _identities(request: Request) -> list[Helper]:
    """Who this browser is: the platform login's helper first, then the bound phone's (the
    phone the helper's personal link is bound to now: `offer_binding.bound_phone`)."""
    deps: ApiDeps = request.app.state.deps
    now = deps.clock()
    found = []
    session = tokens.read_session(deps.settings, request.cookies.get(tokens.SESSION_COOKIE), now)
    login = deps.settings.platform_login_for(session.community_id) if session else None
    if session is not None and login is not None and login.kind == session.kind:
        found.append(Helper(session.helper_id, session.community_id, by_login=True))
    device = await bound_phone(request, deps)
    if device is not None:
        found.append(Helper(device[0], device[1], by_login=False))
    return found


@router.get("", response_class=HTMLResponse)
async def my_offers(request: Request, community: Community = None) -> Response:
    """The helper's open offers, each with its two buttons; inside a chat platform whose
    login the community has, first the platform's login."""
    deps: ApiDeps = request.app.state.deps
    known = await _identities(request)
    here = [h for h in known if community is None or h.community_id == community]
    login = deps.settings.platform_login_for(community) if community else None
    if not here and login is not None:
        # Nobody of this community yet: the platform says who (the roster decides which
        # helper that is, at the callback). The same person may be on two rosters.
        return gate.start(
            request,
            deps,
            login,
            return_path=answer_path(community or ""),
            community_id=community or "",
        )
    if not (here or known):
        return page("请先绑定手机", NOT_BOUND, tone="warn", status_code=401)
    helper = (here or known)[0]
    pool = await deps.pool()
    offers = await open_offers(pool, helper.helper_id)
    since = deps.clock() - PROGRESS_LINK_LIFETIME
    held = await held_by(pool, helper.community_id, helper.helper_id, since)
    if not offers and not held:
        return page("我的邀请", "<p>现在没有等您回复的求助。谢谢您！</p>")
    mine = "".join(
        f"<section><p>您已接下：{_facts(h.category, h.urgency, h.building_label)}</p>"
        # Its page checks the phone as the accept link's does (cookie or login).
        f'<p><a href="{e(OFFER_PATH + _progress(deps, h, helper))}">'
        "查看联系方式和“我在路上 / 去不了了 / 已完成”</a></p></section>"
        for h in held
    )
    # A phone need is asked as a call, never as a visit (as its push and link page ask it).
    items = "".join(
        f"<section><p>{_facts(o.category, o.urgency, o.building_label)}"
        + ("·电话指导，无需前往" if o.remote else "")
        + "</p>"
        + button_form(
            f"{ANSWER_PATH}/offers/{o.offer_id}/accept",
            "我可以电话帮忙" if o.remote else "我可以去帮忙",
        )
        + button_form(
            f"{ANSWER_PATH}/offers/{o.offer_id}/decline",
            "这次帮不了" if o.remote else "这次去不了",
            second=True,
        )
        + "</section>"
        for o in offers
    )
    return page("我的邀请", mine + items)


def _facts(category: str, urgency: str, building_label: str | None) -> str:
    return (
        f"{e(label_zh(category))}·{e(URGENCY_ZH.get(urgency, urgency))}·"
        f"{e(place_label(None, building_label))}"
    )


def _progress(deps: ApiDeps, held: HeldRequest, helper: Helper) -> str:
    """The assignment page's token, as the accept page's buttons make it here (no platform
    user: `/l/me` presses carry none)."""
    use = use_for("accept", held.request_id, held.offer_id, helper.helper_id)
    return progress_token(deps, use, helper.community_id, None)


@router.get("/offers/{offer_id}/{action}", response_class=HTMLResponse)
async def answered(
    request: Request,
    offer_id: OfferId,
    action: Literal["accept", "decline"],
    community: Community = None,
) -> Response:
    """A press's address opened again (the "confirming" page refreshes it, the address bar
    reopens it, a leader's 重新选择 links it): what became of that answer, to the helper
    who gave it, reading only. Anything else (nothing recorded, another's answer, nobody
    identified): the answer page, which lists what is open and what they hold."""
    known = await _identities(request)
    deps: ApiDeps = request.app.state.deps
    recorded = await oo.recorded_use(await deps.pool(), f"{action}:{offer_id}")
    who = next((h for h in known if recorded and h.helper_id == recorded.helper_id), None)
    if recorded is None or who is None:
        where = answer_path(community) if community else ANSWER_PATH  # `?c=` kept: its login
        return RedirectResponse(where, status_code=303, headers={"Cache-Control": "no-store"})
    return await answered_page(
        request,
        recorded,
        who.community_id,
        identified=who.by_login,
        user=None,
        press_at=request.url.path,
    )


@router.post("/offers/{offer_id}/{action}", response_class=HTMLResponse)
async def answer(
    request: Request, offer_id: OfferId, action: Literal["accept", "decline"]
) -> HTMLResponse:
    """Accept or decline an offer made to the signed-in helper (to nobody else)."""
    known = await _identities(request)
    if not known:
        answer = page("请先确认身份", NOT_BOUND, tone="warn", status_code=401)
        answer.headers[gate.REASON_HEADER] = "login_required"
        return answer
    deps: ApiDeps = request.app.state.deps
    pool = await deps.pool()
    recorded = await oo.recorded_use(pool, f"{action}:{offer_id}")
    if recorded is not None:  # answered before: the recorded outcome, to its helper only
        owner, request_id = recorded.helper_id, recorded.request_id
    else:
        open_ = [(h, await open_offers(pool, h.helper_id, offer_id)) for h in known]
        mine = [(h, o[0]) for h, o in open_ if o]
        if not mine:
            return _not_yours()
        owner, request_id = mine[0][0].helper_id, mine[0][1].request_id
    who = next((h for h in known if h.helper_id == owner), None)
    if who is None:
        return _not_yours()
    use = use_for(action, request_id, offer_id, who.helper_id)
    return await act_on_offer(request, use, who.community_id, identified=who.by_login)


def _not_yours() -> HTMLResponse:
    body = "<p>这条邀请不是给您的，或已不再需要回复。</p>"
    return page("无需操作", body, tone="warn", status_code=404)
