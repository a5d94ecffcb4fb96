"""Invite links for self-registration (握手行动): staff create one for a community (and a
compound), residents open it to sign up; staff then approve each sign-up.

A token is `base64url(json claims) "." base64url(HMAC-SHA256(key, first part))`. The key is
derived from `link_secret` for invites only, so no other token (offer, personal link,
session) can pass as an invite, nor an invite as one of them; rotation works as for links
(previous secrets still verify). The claims name no person: community, compound, expiry
and a nonce (which sign-ups came through which link). Pure apart from hashing.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dispatcher.links import _b64, _secrets, _unb64
from dispatcher.roster.places import place_name_error
from dispatcher.settings import Settings

JOIN_PATH = "/join/"
MAX_TOKEN_CHARS = 1024
_PURPOSE = b"neighbour-dispatch/invites/v1"
_ID = r"^[A-Za-z0-9_.:@-]{1,64}$"


class InviteError(Exception):
    reason = "tampered"


class InviteExpired(InviteError):
    reason = "expired"


class InviteClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    community_id: str = Field(alias="c", pattern=_ID)
    compound_id: str | None = Field(default=None, alias="p", pattern=_ID)
    compound_name: str | None = Field(default=None, alias="n", max_length=64)
    grid_id: str | None = Field(default=None, alias="g", pattern=_ID)
    expires: int = Field(alias="e")  # unix seconds
    nonce: str = Field(alias="i", pattern=r"^[A-Za-z0-9_-]{8,32}$")

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


def _keys(settings: Settings) -> list[bytes]:
    """The current key first; previous secrets verify only. Empty secrets never do."""
    return [hmac.new(s.encode(), _PURPOSE, hashlib.sha256).digest() for s in _secrets(settings)]


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()


def invite_token(
    settings: Settings,
    *,
    community_id: str,
    expires_at: datetime,
    compound_id: str | None = None,
    compound_name: str | None = None,
    grid_id: str | None = None,
) -> str:
    """A signed invite. Its compound name is shown with every sign-up's requests: one with
    a flat or phone in it is refused here (ValueError naming the field; the staff API's
    InviteIn answers 422 first), as `python -m dispatcher invite --compound-name` writes it."""
    if why := place_name_error(compound_name):
        raise ValueError(f"compound_name: {why}: a compound's name only (e.g. 图强小区)")
    claims = InviteClaims.model_validate(
        {
            "c": community_id,
            "p": compound_id,
            "n": compound_name,
            "g": grid_id,
            "e": int(expires_at.timestamp()),
            "i": secrets.token_urlsafe(12),
        }
    )
    doc = claims.model_dump(by_alias=True, exclude_none=True)
    body = _b64(json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode())
    return f"{body}.{_b64(_mac(_keys(settings)[0], body))}"


def invite_url(settings: Settings, token: str) -> str:
    return settings.public_base_url.rstrip("/") + JOIN_PATH + token


def verify_invite(settings: Settings, token: str, now: datetime) -> InviteClaims:
    """The claims, or InviteError (malformed, edited, another key) / InviteExpired."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InviteError("malformed invite")
    body, _, mac_text = token.partition(".")
    try:
        mac = _unb64(mac_text)
        expected = [_mac(k, body) for k in _keys(settings)]
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise InviteError("malformed invite") from exc
    if not any([hmac.compare_digest(mac, e) for e in expected]):  # every key, no early exit
        raise InviteError("signature mismatch")
    try:
        claims = InviteClaims.model_validate(json.loads(_unb64(body)))
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise InviteError("unreadable claims") from exc
    if claims.expires_at <= now:
        raise InviteExpired("invite expired")
    return claims
