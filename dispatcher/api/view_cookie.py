"""The accepting phone's proof: a cookie set when a helper accepts through a link, which
lets that phone see the requester's contact again and press the assignment's buttons
(a forwarded link alone does neither). HMAC-bound to (offer, helper)."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from fastapi.responses import HTMLResponse

from dispatcher.api.auth import behind_tls
from dispatcher.api.deps import ApiDeps
from dispatcher.links import contact_view_proof

VIEW_COOKIE_S = 2 * 24 * 3600  # the accepting device sees the contact again for two days


def cookie_name(offer_id: str) -> str:
    return "dv_" + hashlib.sha256(offer_id.encode()).hexdigest()[:16]


def may_see_contact(request: Request, deps: ApiDeps, offer_id: str, helper_id: str) -> bool:
    presented = request.cookies.get(cookie_name(offer_id), "")
    proof = contact_view_proof(deps.settings, offer_id, helper_id)
    return hmac.compare_digest(presented.encode(), proof.encode())


def set_view_cookie(
    request: Request, deps: ApiDeps, offer_id: str, helper_id: str, answer: HTMLResponse
) -> None:
    answer.set_cookie(
        cookie_name(offer_id),
        contact_view_proof(deps.settings, offer_id, helper_id),
        max_age=VIEW_COOKIE_S,
        path="/l/",  # both answer pages: the links and /l/me
        httponly=True,
        samesite="strict",
        secure=behind_tls(request),
    )
