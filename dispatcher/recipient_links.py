"""Links for the people the whistle and the referral rung call: "I take it on" (claim) and
"报到" (report back), each bound to one recipient of one request.

A link is the recipient's identity (like a helper's offer link): signed with a key of its
own (derived from `DISPATCH_LINK_SECRET` for this purpose only, so no offer or personal
link verifies here and no recipient link verifies there), expiring, and usable once
(`record/edge/recipient_links.py` keeps the hashes of used ones). Whoever presses it acts
as that recipient, and the claim/report names them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dispatcher.links import LinkExpired, LinkTampered
from dispatcher.settings import Settings

PATH = "/l/w/"
LIFETIME = timedelta(days=1)
MAX_CHARS = 1024
RecipientAction = Literal["claim", "report"]


class RecipientClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: RecipientAction = Field(alias="a")
    request_id: str = Field(alias="r", min_length=1, max_length=64)
    community_id: str = Field(alias="c", min_length=1)
    recipient: str = Field(alias="p", min_length=1, max_length=128)
    role: str = Field(alias="l", max_length=64)
    expires: int = Field(alias="e")


def _keys(settings: Settings) -> list[bytes]:
    values = [settings.link_secret, *settings.link_secrets_previous]
    return [
        hmac.new(
            s.get_secret_value().encode(), b"neighbour-dispatch/recipient/v1", "sha256"
        ).digest()
        for s in values
        if s.get_secret_value()
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # one spelling per link: an edited link never passes
        raise binascii.Error("non-canonical base64url")
    return data


def recipient_token(
    settings: Settings,
    *,
    action: RecipientAction,
    request_id: str,
    community_id: str,
    recipient: str,
    role: str,
    expires_at: datetime,
) -> str:
    claims = {
        "a": action,
        "r": request_id,
        "c": community_id,
        "p": recipient,
        "l": role,
        "e": int(expires_at.timestamp()),
    }
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(_keys(settings)[0], body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def recipient_links(
    settings: Settings,
    *,
    request_id: str,
    community_id: str,
    recipient: str,
    role: str,
    now: datetime,
) -> dict[str, str]:
    """Absolute claim and report-back URLs for one recipient of one request."""
    base = settings.public_base_url.rstrip("/") + PATH
    return {
        action: base
        + recipient_token(
            settings,
            action=action,
            request_id=request_id,
            community_id=community_id,
            recipient=recipient,
            role=role,
            expires_at=now + LIFETIME,
        )
        for action in ("claim", "report")
    }


def verify_recipient_token(settings: Settings, token: str, now: datetime) -> RecipientClaims:
    if not token or len(token) > MAX_CHARS or token.count(".") != 1:
        raise LinkTampered("malformed link")
    body, _, mac_text = token.partition(".")
    try:
        mac = _unb64(mac_text)
        expected = [
            hmac.new(k, body.encode("ascii"), hashlib.sha256).digest() for k in _keys(settings)
        ]
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise LinkTampered("malformed link") from exc
    if not any([hmac.compare_digest(mac, e) for e in expected]):  # every key, no early exit
        raise LinkTampered("signature mismatch")
    try:
        claims = RecipientClaims.model_validate(json.loads(_unb64(body)))
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise LinkTampered("unreadable claims") from exc
    if now >= datetime.fromtimestamp(claims.expires, UTC):
        raise LinkExpired("link expired")
    return claims


def use_key(token: str) -> str:
    """What the one-time check stores: a hash, never the link."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()
