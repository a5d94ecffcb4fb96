"""Device binding of private offer links (issue 12, finding 1): the pure parts.

An offer pushed privately to a helper who has no platform login carries accept/decline
links that would otherwise act for whoever holds them (forwarded into a group, or to
another phone). So the first browser that opens (or presses) the link gets a random
cookie, and the server keeps only a keyed hash of it, bound to that offer and helper; the
link then acts, and shows its pages, only for a browser that presents that cookie (or the
helper's own proofs: the phone bound through their personal link, or the accepting
phone's contact-view cookie). The API side is `dispatcher/api/offer_binding.py`.

Pure apart from hashing and the random source: `now` is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Literal

from dispatcher.links import purpose_keys
from dispatcher.settings import Settings

COOKIE_PREFIX = "db_"
COOKIE_BYTES = 32  # 256 random bits: guessing one is hopeless
MAX_COOKIE_CHARS = 64  # token_urlsafe(32) is 43; anything longer is not ours
# The same phone opens the link again later (the accepted page, its buttons): the cookie
# lives as long as the link, at least two days (the assignment's buttons' lifetime), never
# more than thirty.
MIN_LIFETIME = timedelta(days=2)
MAX_LIFETIME = timedelta(days=30)
PURPOSE = b"neighbour-dispatch/offer-device/v1"

Verdict = Literal["bind", "same_device", "other_device"]


def cookie_name(offer_id: str) -> str:
    """One cookie per offer (its accept and decline links share it); the name shows no id."""
    return COOKIE_PREFIX + hashlib.sha256(f"bind:{offer_id}".encode()).hexdigest()[:16]


def new_cookie() -> str:
    return secrets.token_urlsafe(COOKIE_BYTES)


def _digest(key: bytes, offer_id: str, helper_id: str, cookie: str) -> str:
    msg = f"{offer_id}\x00{helper_id}\x00{cookie}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def binding_hash(settings: Settings, offer_id: str, helper_id: str, cookie: str) -> str:
    """What the server stores: keyed (a database reader cannot replay it as a cookie) and
    bound to the offer and helper (one offer's cookie is worth nothing on another)."""
    return _digest(purpose_keys(settings, PURPOSE)[0], offer_id, helper_id, cookie)


def matches(
    settings: Settings, stored: str, offer_id: str, helper_id: str, presented: str | None
) -> bool:
    """The presented cookie is the one bound to this offer and helper. Previous link
    secrets still verify (a rotation does not lock a helper out mid-offer)."""
    if not presented or len(presented) > MAX_COOKIE_CHARS:
        return False
    found = [
        hmac.compare_digest(stored, _digest(key, offer_id, helper_id, presented))
        for key in purpose_keys(settings, PURPOSE)
    ]
    return any(found)


def verdict(stored: str | None, presented_ok: bool, helpers_own: bool) -> Verdict:
    """`stored`: the offer's binding, if any; `presented_ok`: the browser's cookie matches
    it; `helpers_own`: the browser carries another proof that it is the helper's phone."""
    if stored is None:
        return "bind"
    if presented_ok or helpers_own:
        return "same_device"
    return "other_device"


def cookie_lifetime(link_expires_at: datetime, now: datetime) -> timedelta:
    return min(MAX_LIFETIME, max(MIN_LIFETIME, link_expires_at - now))
