"""Private offer links act only on the device that opened them first (issue 12, finding 1).

A helper with no platform login (no 平台账号 on the roster, or a community without one) gets
accept/decline links in a private message. Such a link, forwarded into a group or to another
phone, must not act for whoever holds it: the first browser that opens it (GET, the
confirmation page, as a navigation: see `navigates`) or presses it (POST) is bound to the
offer - a random HttpOnly, SameSite=Lax cookie (sent when the helper reopens the link from a
chat app, which Strict may not be; a cross-site POST still carries none), of which the
server keeps only a keyed hash (`dispatcher/offer_binding.py`, table
`offer_device_bindings`). Afterwards the link's pages and buttons answer only that browser,
or one that carries the helper's own proof: the phone bound through their personal link, or
the accepting phone's contact-view cookie. Any other browser gets a clear refusal (409
opening, 403 pressing): no request details, no contact, no command; the attempt is logged
without personal data, counted in `dispatch_offer_link_other_device` and on the binding's
row (past 10 at once, 20 a minute per offer: 429, nothing written).

Helpers with a platform login keep using it (platform_login/gate.py): their links are not
bound. (The routes answer no HEAD, so a scanner's HEAD binds nothing.)

A helper's personal link (`/l/h/…`, in their welcome) is bound the same way (session 39):
it gives the phone that opens it the cookie that says "this phone is the helper" (answer
their group offers on `/l/me`, pass their bound offer links) and its buttons set them away,
so forwarded it handed the helper over. The first browser that opens it (as a navigation)
or presses one of its buttons is bound (`check_personal`, table `helper_link_bindings`,
one row per helper, kept as long as the link); any other gets the same refusal (409
opening, 403 pressing) and no cookie. A newer link of the helper (a welcome sent again)
binds anew and the older one stops; staff free a binding when a helper changes phone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from dispatcher import offer_binding as ob
from dispatcher.api.auth import behind_tls
from dispatcher.api.deps import ApiDeps
from dispatcher.api.pages import REASON_HEADER, page
from dispatcher.api.view_cookie import may_see_contact
from dispatcher.links import DEVICE_COOKIE, OFFER_PATH, LinkClaims, bound_helper
from dispatcher.ops.api_metrics import OFFER_LINK_OTHER_DEVICE
from dispatcher.record.edge import helper_link_bindings, offer_bindings

log = logging.getLogger(__name__)
Step = Literal["open", "act"]
REASON = "other_device"
LINKS_PATH = "/l/"  # the phone's cookies' path: personal page, offer links, `/l/me`
OTHER_DEVICE = (
    "<p>这条链接已在另一部手机上打开，只能在那部手机上回复。</p>"
    "<p>如果那是您本人的手机，请在那部手机上操作；如有疑问，请联系社区工作人员（居委会）。</p>"
    '<p class="note">This link was opened on another device - ask the community office.</p>'
)


PERSONAL_OTHER_DEVICE = (
    "<p>这条个人链接已在另一部手机上打开，只能在那部手机上使用。</p>"
    "<p>如果您换了手机，请联系社区工作人员（居委会）重新绑定；"
    "如果这条链接是别人转发给您的，请不要使用。</p>"
    '<p class="note">This personal link was opened on another device - ask the community'
    " office.</p>"
)
SUPERSEDED = (
    "<p>这条个人链接已被社区发给您的新链接取代，请打开最新的那条。</p>"
    "<p>如有疑问，请联系社区工作人员（居委会）。</p>"
)


@dataclass(frozen=True)
class Binding:
    """The check's answer: go on (`refusal` None), setting `new_cookie` on the answer if
    this browser was just bound. `preview`: a link preview was shown the page, unbound."""

    refusal: HTMLResponse | None = None
    new_cookie: str | None = None
    lifetime_s: int = 0
    preview: bool = False


async def _helpers_own(request: Request, deps: ApiDeps, claims: LinkClaims) -> bool:
    assert claims.offer_id is not None
    if await bound_phone(request, deps) == (claims.helper_id, claims.community_id):
        return True  # the phone bound through the helper's private personal link
    return may_see_contact(request, deps, claims.offer_id, claims.helper_id)


def navigates(request: Request) -> bool:
    """A browser opening the page for a person, by its Fetch Metadata (sent by every current
    browser). A link preview - a messaging app fetching the private message's link to show
    a card, often from the helper's own phone but not from their browser - sends none: it
    sees the page (no contact on it) but binds nothing, or the helper's browser would be
    locked out. A browser without these headers is bound at its first press instead."""
    headers = request.headers
    return headers.get("sec-fetch-mode") == "navigate" and (
        headers.get("sec-fetch-dest", "document") == "document"
    )


async def check(request: Request, deps: ApiDeps, claims: LinkClaims, step: Step) -> Binding:
    """Bind this browser to the link's offer if nobody was bound yet; else let through only
    the bound browser (or the helper's own phone), refusing anyone else."""
    offer_id = claims.offer_id
    assert offer_id is not None
    pool = await deps.pool()
    presented = request.cookies.get(ob.cookie_name(offer_id))
    stored = await offer_bindings.bound(pool, offer_id)
    if stored is None:
        if step == "open" and not navigates(request):
            return Binding()  # a preview: shown, not bound
        cookie = ob.new_cookie()
        wanted = ob.binding_hash(deps.settings, offer_id, claims.helper_id, cookie)
        stored = await offer_bindings.bind(pool, offer_id, claims.helper_id, wanted)
        if stored == wanted:
            lifetime = ob.cookie_lifetime(claims.expires_at, deps.clock())
            return Binding(new_cookie=cookie, lifetime_s=int(lifetime.total_seconds()))
    # Another browser may have been bound a moment before (stored != wanted): judge as usual.
    presented_ok = ob.matches(deps.settings, stored, offer_id, claims.helper_id, presented)
    own = not presented_ok and await _helpers_own(request, deps, claims)
    if ob.verdict(stored, presented_ok, own) == "same_device":
        return Binding()
    # A forwarded link hammered from elsewhere: 429 before any write or log line. Only
    # refusals draw on this bucket, so the bound phone is never slowed by it.
    deps.limiter.check(("other-device", offer_id), 20, 10, "link")
    await offer_bindings.count_refused(pool, offer_id)
    OFFER_LINK_OTHER_DEVICE.labels(step).inc()
    # No helper id, request id, token or address in the log: the offer id names the binding.
    log.warning("offer %s: link %s on another device than the bound one, refused", offer_id, step)
    return Binding(refusal=refused(step))


def refused(step: Step, body_html: str = OTHER_DEVICE) -> HTMLResponse:
    answer = page(
        "链接已在另一部手机上打开",
        body_html,
        tone="bad",
        status_code=409 if step == "open" else 403,
    )
    answer.headers[REASON_HEADER] = REASON
    return answer


def remember(request: Request, binding: Binding, offer_id: str, answer: Response) -> None:
    """Set the new binding's cookie on whatever the page answered."""
    # Only the offer links (and their buttons) need it.
    _set_cookie(request, binding, ob.cookie_name(offer_id), OFFER_PATH, answer)


def _set_cookie(request: Request, binding: Binding, name: str, path: str, answer: Response) -> None:
    if binding.new_cookie is None:
        return
    answer.set_cookie(
        name,
        binding.new_cookie,
        max_age=binding.lifetime_s,
        path=path,
        httponly=True,
        samesite="lax",
        secure=behind_tls(request),
    )


def personal_cookie_name(community_id: str, helper_id: str) -> str:
    """One cookie per helper (two helpers of one family may share a phone); no id in it."""
    return ob.cookie_name(f"personal:{community_id}:{helper_id}")


def _personal_key(community_id: str, link_expires: int) -> str:
    """What the stored hash binds besides the helper: the link (its expiry names it)."""
    return f"personal:{community_id}:{link_expires}"


async def bound_phone(request: Request, deps: ApiDeps) -> tuple[str, str] | None:
    """(helper id, community id) of the phone bound through a helper's personal link, or
    None. The phone's cookie (`DEVICE_COOKIE`, signed, 180 days) counts only beside the
    cookie of the link's current binding: a phone the binding has since moved from (a new
    phone, a newer link) is nobody's, and so is one given the phone's cookie before links
    were bound (a forwarded link's, before session 39)."""
    device = bound_helper(deps.settings, request.cookies.get(DEVICE_COOKIE), deps.clock())
    if device is None:
        return None
    helper, community = device
    stored = await helper_link_bindings.held(await deps.pool(), community, helper)
    if stored is None:
        return None
    presented = request.cookies.get(personal_cookie_name(community, helper))
    key = _personal_key(community, stored.link_expires)
    return device if ob.matches(deps.settings, stored.device_hash, key, helper, presented) else None


async def check_personal(
    request: Request, deps: ApiDeps, claims: LinkClaims, step: Step
) -> Binding:
    """Bind this browser to the helper's personal link if nobody (or only an older link of
    theirs) was bound yet; else let through only the bound browser."""
    pool = await deps.pool()
    community, helper = claims.community_id, claims.helper_id
    key = _personal_key(community, claims.expires)
    stored = await helper_link_bindings.held(pool, community, helper)
    if stored is None or stored.link_expires < claims.expires:
        if step == "open" and not navigates(request):
            return Binding(preview=True)  # a preview: shown, not bound, no cookie
        cookie = ob.new_cookie()
        wanted = ob.binding_hash(deps.settings, key, helper, cookie)
        stored = await helper_link_bindings.bind(pool, community, helper, claims.expires, wanted)
        if stored.device_hash == wanted:
            lifetime = claims.expires_at - deps.clock()  # as long as the link
            return Binding(new_cookie=cookie, lifetime_s=int(lifetime.total_seconds()))
    if stored.link_expires > claims.expires:
        answer = page("链接已更新", SUPERSEDED, tone="warn", status_code=410)
        answer.headers[REASON_HEADER] = "superseded"
        return Binding(refusal=answer)
    presented = request.cookies.get(personal_cookie_name(community, helper))
    if ob.matches(deps.settings, stored.device_hash, key, helper, presented):
        return Binding()
    deps.limiter.check(("other-device", f"personal:{community}:{helper}"), 20, 10, "link")
    await helper_link_bindings.count_refused(pool, community, helper)
    log.warning("personal link %s on another device than the bound one, refused", step)
    return Binding(refusal=refused(step, PERSONAL_OTHER_DEVICE))


def remember_personal(
    request: Request, binding: Binding, claims: LinkClaims, answer: Response
) -> None:
    """Set the personal link's new binding cookie on whatever the page answered: its page
    and buttons, and `/l/me` and the offer links (`bound_phone`), need it."""
    name = personal_cookie_name(claims.community_id, claims.helper_id)
    _set_cookie(request, binding, name, LINKS_PATH, answer)
