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
from dispatcher.api.pages import page
from dispatcher.api.platform_login.gate import REASON_HEADER
from dispatcher.api.view_cookie import may_see_contact
from dispatcher.links import DEVICE_COOKIE, OFFER_PATH, LinkClaims, bound_helper
from dispatcher.ops.api_metrics import OFFER_LINK_OTHER_DEVICE
from dispatcher.record.edge import offer_bindings

log = logging.getLogger(__name__)
Step = Literal["open", "act"]
REASON = "other_device"
OTHER_DEVICE = (
    "<p>这条链接已在另一部手机上打开，只能在那部手机上回复。</p>"
    "<p>如果那是您本人的手机，请在那部手机上操作；如有疑问，请联系社区工作人员（居委会）。</p>"
    '<p class="note">This link was opened on another device - ask the community office.</p>'
)


@dataclass(frozen=True)
class Binding:
    """The check's answer: go on (`refusal` None), setting `new_cookie` on the answer if
    this browser was just bound."""

    refusal: HTMLResponse | None = None
    new_cookie: str | None = None
    lifetime_s: int = 0


def _helpers_own(request: Request, deps: ApiDeps, claims: LinkClaims) -> bool:
    assert claims.offer_id is not None
    device = bound_helper(deps.settings, request.cookies.get(DEVICE_COOKIE), deps.clock())
    if device == (claims.helper_id, claims.community_id):
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
    own = not presented_ok and _helpers_own(request, deps, claims)
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


def refused(step: Step) -> HTMLResponse:
    answer = page(
        "链接已在另一部手机上打开",
        OTHER_DEVICE,
        tone="bad",
        status_code=409 if step == "open" else 403,
    )
    answer.headers[REASON_HEADER] = REASON
    return answer


def remember(request: Request, binding: Binding, offer_id: str, answer: Response) -> None:
    """Set the new binding's cookie on whatever the page answered."""
    if binding.new_cookie is None:
        return
    answer.set_cookie(
        ob.cookie_name(offer_id),
        binding.new_cookie,
        max_age=binding.lifetime_s,
        path=OFFER_PATH,  # only the offer links (and their buttons) need it
        httponly=True,
        samesite="lax",
        secure=behind_tls(request),
    )
