"""Self-registration (握手行动): a resident opens a staff-made invite link, fills in a short
form (name, phone, building, the help they offer, how to reach them), and the sign-up waits
for staff of that community (dispatcher/api/registrations.py). Nothing reaches the roster
from here: only a staff approval sends the command.

The phone is personal: it goes into the pending sign-up (PostgreSQL, cleared once decided)
and into the helper id only through the keyed hash; never into a log or a page. Every
sign-up is kept and answered alike, a second for the same phone too: the page tells
nobody whether a number is signed up already, and whoever typed a neighbour's number
first holds no place of theirs (staff see how many sign-ups share a phone).
"""

from __future__ import annotations

from html import escape as e
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from dispatcher.api.auth import client_address
from dispatcher.api.deps import ApiDeps
from dispatcher.api.helper_pages import chosen_offer, offer_choices
from dispatcher.api.invites import JOIN_PATH, InviteClaims, InviteError, verify_invite
from dispatcher.api.pages import join_expired, link_error, page
from dispatcher.groupchat.texts import unshowable
from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.record.edge import registrations
from dispatcher.roster.cells import PHONE, phone_text
from dispatcher.roster.places import building, compound_id_for, place_name_error
from dispatcher.sealing import keyring
from schemas.helpers import HelperProfile
from schemas.places import PlacePath
from schemas.text import unstorable
from schemas.vocab import Skill

router = APIRouter(prefix=JOIN_PATH.rstrip("/"), tags=["self-registration"])
Token = Path(min_length=1, max_length=1024, description="A signed invite token")
HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A page in Chinese"}
}
MAX_NAME = 32
LABELS = {"name": "姓名", "phone": "手机号", "building": "楼栋", "compound": "小区"}


def _claims(request: Request, token: str) -> InviteClaims | HTMLResponse:
    deps: ApiDeps = request.app.state.deps
    try:
        return verify_invite(deps.settings, token, deps.clock())
    except InviteError as exc:
        return join_expired() if exc.reason == "expired" else link_error(exc.reason)


def _form(action: str, claims: InviteClaims, choices: str) -> str:
    where = claims.compound_name or claims.compound_id
    compound = (
        f"<p>小区：{e(where)}</p>"
        if where
        else '<p><label>小区 <input name="compound" maxlength="32" required></label></p>'
    )
    return (
        f'<form method="post" action="{e(action)}">'
        + compound
        + '<p><label>姓名 <input name="name" maxlength="32" required></label></p>'
        '<p><label>手机号 <input name="phone" type="tel" maxlength="20" required></label></p>'
        '<p><label>楼栋 <input name="building" maxlength="32" placeholder="如 3号楼、A座" '
        "required></label></p>"
        + choices
        + '<button type="submit">提交，等待社区审核</button></form>'
        '<p class="note">手机号仅用于社区核实和您接单后联系求助人，不会公开。</p>'
    )


@router.get("/{token}", response_class=HTMLResponse, responses=HTML)
async def join_page(request: Request, token: str = Token) -> HTMLResponse:
    claims = _claims(request, token)
    if isinstance(claims, HTMLResponse):
        return claims
    deps: ApiDeps = request.app.state.deps
    return page("加入邻里互助", _form(request.url.path, claims, offer_choices(deps.settings)))


def _problem(text: str) -> HTMLResponse:
    return page("请检查填写内容", f"<p>{e(text)}</p>", tone="warn", status_code=422)


def _unstorable(form: FormData) -> str | None:
    """A field holding what PostgreSQL cannot store (NUL, a lone surrogate): what to say."""
    for field, value in form.multi_items():
        if isinstance(value, str) and unstorable(value):
            label = LABELS.get(field, "填写内容")
            return f"{label}含有无法保存的字符（如 U+0000），请删除后重新提交。"
    return None


@router.post("/{token}", response_class=HTMLResponse, responses=HTML)
async def join(request: Request, token: str = Token) -> HTMLResponse:
    """A pending sign-up; staff of the community approve or reject it."""
    claims = _claims(request, token)
    if isinstance(claims, HTMLResponse):
        return claims
    deps: ApiDeps = request.app.state.deps
    deps.limiter.check(("join", client_address(request)), 10, 5, "address")
    form = await request.form()
    if problem := _unstorable(form):
        return _problem(problem)
    name = str(form.get("name", "")).strip()
    phone = phone_text(str(form.get("phone", "")))  # "13８…" (full-width) is 138…
    home = building(str(form.get("building", "")))
    compound_name = claims.compound_name or str(form.get("compound", "")).strip() or None
    compound_id = claims.compound_id or (
        compound_id_for(claims.community_id, compound_name) if compound_name else None
    )
    chosen = chosen_offer(deps.settings, form)
    if not name or len(name) > MAX_NAME:
        return _problem("请填写姓名（不超过32个字）。")
    if found := unshowable(name):  # a hand-made POST: the form's input holds one line
        return _problem(f"姓名含有换行或控制字符（{found}），请删除后重新提交。")
    if not PHONE.match(phone):
        return _problem("手机号格式不对。")
    if home is None:
        return _problem("请填写楼栋，例如 3号楼、A座。")
    if compound_id is None or (compound_name is not None and len(compound_name) > MAX_NAME):
        return _problem("请填写小区名称。")
    # The resident's own 小区 (an invite's was checked when made): shown with every request
    # near them, as 楼栋 is.
    if not claims.compound_name and place_name_error(compound_name):
        return _problem("小区只填小区名称（例如 图强小区），不要填门牌号、单元、房号或电话。")
    if isinstance(chosen, str):
        return _problem(chosen)
    skills, channel = chosen
    profile = HelperProfile(
        helper_id=keyed_helper_id(id_key(deps.settings), claims.community_id, phone),
        name=name,
        phone=phone,
        place=PlacePath(
            community_id=claims.community_id,
            grid_id=claims.grid_id,
            compound_id=compound_id,
            compound_name=compound_name,
            building_id=home.building_id,
            building_name=home.name,
        ),
        skills=skills or (Skill.GENERAL,),
        channels=(channel,) if channel else (),
    )
    phone_key = keyring(deps.settings).phone_key(phone)
    await registrations.submit(
        await deps.pool(), profile, channel, claims.nonce, deps.clock(), phone_key
    )
    return page(
        "已提交，谢谢您！",
        "<p>正在等待社区审核。审核通过后，您会收到一条欢迎消息，里面有您的个人页面链接。</p>",
    )
