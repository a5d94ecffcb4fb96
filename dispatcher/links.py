"""Signed links for volunteers: accept/decline an offer, and a personal status link.

A token is `"~" base64url(nonce, AES-GCM(json claims)) "." base64url(HMAC-SHA256(key, first
part))`: the claims (which helper, which request) are unreadable to whoever sees the link,
and the MAC is checked before anything is decrypted. Both keys are derived from
`settings.link_secret` for this purpose only (the same secret can never validate some other
kind of token). Tokens issued before issue 12 (`base64url(json claims)` in clear, no "~")
still verify until they expire. The claims bind the action, the offer, the
helper, the community and an expiry, so a link forwarded, edited or kept too long fails.

Single use is enforced by the API (it records each offer action once, in PostgreSQL);
this module only signs and verifies. Pure apart from hashing: `now` is passed in.

The notify agent calls `action_links` when it pushes an offer:

    links = action_links(settings, request_id=..., offer_id=..., helper_id=...,
                         community_id=..., expires_at=offer.expires_at)
    links["accept"], links["decline"]   # absolute URLs under settings.public_base_url
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Literal
from urllib.parse import urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dispatcher.clock import utcnow
from dispatcher.numbers import MAX_EPOCH_S, NotANumber, parse_int
from dispatcher.settings import Settings

TOKEN_VERSION: Literal[1] = 1
OFFER_PATH = "/l/o/"  # short: the links travel inside chat messages with a size limit
HELPER_PATH = "/l/h/"
ANSWER_PATH = "/l/me"  # what group messages link to: no secret in it
ANSWER_COMMUNITY = "c"  # its one parameter: the group's community (which platform logs in)
DEVICE_COOKIE = "dispatch_helper"
DEVICE_LIFETIME = timedelta(days=180)
HELPER_LINK_LIFETIME = timedelta(days=365)
MAX_TOKEN_CHARS = 1024
SEALED = "~"  # marks an encrypted claims part (legacy clear ones start with "eyJ")
NONCE_BYTES = 12
AAD = b"neighbour-dispatch/links/v2"

OfferAction = Literal["accept", "decline"]
LinkKind = Literal["accept", "decline", "helper"]


class LinkError(Exception):
    """The link cannot be used. `reason` is a stable word for pages, tests and metrics."""

    reason = "invalid"


class LinkTampered(LinkError):
    """Malformed, or the signature does not match (edited, truncated, or another key)."""

    reason = "tampered"


class LinkExpired(LinkError):
    reason = "expired"


class LinkClaims(BaseModel):
    """What a valid token says. Offer fields are None for a personal helper link."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = TOKEN_VERSION
    kind: LinkKind = Field(alias="k")
    helper_id: str = Field(alias="h", min_length=1)
    community_id: str = Field(alias="c", min_length=1)
    request_id: str | None = Field(default=None, alias="r")
    offer_id: str | None = Field(default=None, alias="o")
    expires: int = Field(alias="e")  # unix seconds
    # The helper's chat-platform user id (roster 平台账号): where the community has a
    # platform login, only that platform user may act on the link (api/platform_login/).
    platform_user_id: str | None = Field(default=None, alias="u", max_length=128)
    # The ask of the offer the link was pushed with: n when a reopened slot asked its helper
    # again for the n-th time after a covered stand-down (`WaveOffer.again`), 0 (absent) on
    # a first ask's link and on every link from before session 41.
    again: int = Field(default=0, alias="a", ge=0)

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)

    @property
    def use_key(self) -> str:
        """One use per (action, offer, ask): re-issued links for one ask share it."""
        return ask_key(f"{self.kind}:{self.offer_id or self.helper_id}", self.again)


ASK_MARK = "@"  # in a use key, before the ask's number (offer ids and actions have none)


def ask_key(use_key: str, again: int) -> str:
    """The use key of a link's answer to an offer's ask: the first ask's is the link's own
    (`accept:<offer_id>`, as before session 41), the one asked `again` n times `…@<n+1>`,
    so an answer the core refused on an earlier ask (covered) is not this ask's answer."""
    return f"{use_key}{ASK_MARK}{again + 1}" if again else use_key


def _derive(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"neighbour-dispatch/links/v1", hashlib.sha256).digest()


def _enc_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"neighbour-dispatch/links/enc/v1", hashlib.sha256).digest()


def _secrets(settings: Settings) -> list[str]:
    values = [settings.link_secret, *settings.link_secrets_previous]
    return [s.get_secret_value() for s in values if s.get_secret_value()]


def _key(settings: Settings) -> bytes:
    """The signing key: always the current `link_secret`."""
    return _derive(settings.link_secret.get_secret_value())


def _verify_keys(settings: Settings) -> list[bytes]:
    """Rotation: links signed with a previous secret still verify (they expire on their
    own); nothing is ever signed with one. Empty secrets never verify anything."""
    return [_derive(s) for s in _secrets(settings)]


def purpose_keys(settings: Settings, purpose: bytes) -> list[bytes]:
    """Keys for another use of the link secret (`purpose` names it): the current secret's
    first, then the previous secrets' (they verify only, like links)."""
    return [hmac.new(s.encode(), purpose, hashlib.sha256).digest() for s in _secrets(settings)]


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """`base64.urlsafe_b64encode` unpadded, without its Python layers (four per offer)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict base64url: only the one spelling `_b64` gives. The last character of a
    43-character MAC has 2 unused bits, so without this check 4 spellings of one link verify
    (an edited link would pass as the original)."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise binascii.Error("non-canonical base64url")
    return data


def _json_text(value: str) -> str:
    """A string as `json.dumps` writes it (ensure_ascii, the C encoder it uses)."""
    return str(encode_basestring_ascii(value))


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return int(moment.timestamp())


@lru_cache(maxsize=4)
def _sealer(secret: str) -> tuple[AESGCM, hmac.HMAC]:
    """The cipher and the keyed MAC of one link secret, set up once (not twice per token:
    the notify agent signs two tokens per offer); each token's MAC is a copy of it."""
    return AESGCM(_enc_key(secret)), hmac.new(_derive(secret), digestmod=hashlib.sha256)


def _seal(settings: Settings, plain: bytes) -> str:
    """A token for the claims' JSON: a fresh random nonce every time, as ever."""
    aead, keyed = _sealer(settings.link_secret.get_secret_value())
    nonce = os.urandom(NONCE_BYTES)
    body = SEALED + _b64(nonce + aead.encrypt(nonce, plain, AAD))
    mac = keyed.copy()  # the keyed state stays untouched for the next token
    mac.update(body.encode("ascii"))
    return f"{body}.{_b64(mac.digest())}"


def sign_claims(settings: Settings, claims: dict[str, object]) -> str:
    return _seal(settings, json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())


def _open(settings: Settings, body: str, key_index: int) -> bytes:
    """The claims' JSON: decrypted with the secret whose MAC matched, or a legacy clear body."""
    if not body.startswith(SEALED):
        return _unb64(body)
    raw = _unb64(body.removeprefix(SEALED))
    enc = AESGCM(_enc_key(_secrets(settings)[key_index]))
    try:
        return enc.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], AAD)
    except InvalidTag as exc:  # MAC matched but the seal did not: our key, not our token
        raise ValueError("unreadable sealed claims") from exc


def offer_token(
    settings: Settings,
    *,
    action: OfferAction,
    request_id: str,
    offer_id: str,
    helper_id: str,
    community_id: str,
    expires_at: datetime,
    platform_user_id: str | None = None,
    again: int = 0,
) -> str:
    claims: dict[str, object] = {
        "v": TOKEN_VERSION,
        "k": action,
        "r": request_id,
        "o": offer_id,
        "h": helper_id,
        "c": community_id,
        "e": _unix(expires_at),
    }
    if platform_user_id:  # sealed like the rest: a bystander cannot read it
        claims["u"] = platform_user_id
    if again:  # a first ask's link keeps its earlier claims
        claims["a"] = again
    return sign_claims(settings, claims)


def action_links(
    settings: Settings,
    *,
    request_id: str,
    offer_id: str,
    helper_id: str,
    community_id: str,
    expires_at: datetime,
    platform_user_id: str | None = None,
    again: int = 0,
) -> dict[str, str]:
    """Absolute accept and decline URLs for one offer to one helper (`again`: of the
    offer's ask after so many covered stand-downs, `LinkClaims.again`).

    `expires_at` is when the links stop working: the offer's expiry, or the request's end
    if a late "I'll go" should still count (the core accepts late answers while a slot is
    free). Opening a link (GET) only shows a confirmation page; the button POSTs.
    `platform_user_id` (the roster's 平台账号) makes the link need that platform user's
    login where the community has one configured.
    """
    base = settings.public_base_url.rstrip("/") + OFFER_PATH
    # The two tokens' claims differ only in "k" (sorted keys: a c e h k o r u v): the JSON
    # around it is written once, exactly as `offer_token` (json.dumps) writes it.
    text = _json_text
    asked = f'"a":{int(again)},' if again else ""
    head = f'{{{asked}"c":{text(community_id)},"e":{_unix(expires_at)},"h":{text(helper_id)},"k":"'
    tail = f'","o":{text(offer_id)},"r":{text(request_id)},'
    if platform_user_id:
        tail += f'"u":{text(platform_user_id)},'
    tail += f'"v":{TOKEN_VERSION}}}'
    return {
        action: base + _seal(settings, (head + action + tail).encode())
        for action in ("accept", "decline")  # in this order: each takes its own nonce
    }


def helper_link(
    settings: Settings,
    *,
    helper_id: str,
    community_id: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """A helper's personal link to mark themselves away / back / busy / on call.

    Reusable until it expires (a year by default; then its page says to ask staff for a
    new one), on the one browser it is bound to (dispatcher/api/offer_binding.py
    `check_personal`); rotating `link_secret` revokes all.
    """
    if expires_at is None:
        expires_at = (now or utcnow()) + HELPER_LINK_LIFETIME
    claims: dict[str, object] = {
        "v": TOKEN_VERSION,
        "k": "helper",
        "h": helper_id,
        "c": community_id,
        "e": _unix(expires_at),
    }
    return settings.public_base_url.rstrip("/") + HELPER_PATH + sign_claims(settings, claims)


@lru_cache(maxsize=1024)  # one per community: every offer of every wave asks for it
def answer_path(community_id: str) -> str:
    """The answer page's path for a community's group messages (no secret in it: the
    community only says which platform's login to use)."""
    return f"{ANSWER_PATH}?{urlencode({ANSWER_COMMUNITY: community_id})}"


def device_binding(settings: Settings, helper_id: str, community_id: str, now: datetime) -> str:
    """The cookie a helper's phone gets when it opens the helper's private personal link:
    afterwards that phone answers offers posted into a group (which carry no per-helper
    link) as that helper."""
    expires = str(_unix(now + DEVICE_LIFETIME))
    msg = f"device:{helper_id}:{community_id}:{expires}".encode()
    mac = _b64(hmac.new(_key(settings), msg, hashlib.sha256).digest())
    return ":".join((_b64(helper_id.encode()), _b64(community_id.encode()), expires, mac))


def bound_helper(settings: Settings, cookie: str | None, now: datetime) -> tuple[str, str] | None:
    """(helper id, community id) of a bound device, or None (absent, edited, expired)."""
    parts = (cookie or "").split(":")
    if len(parts) != 4:
        return None
    try:
        expires = parse_int(parts[2], "device expiry", lo=0, hi=MAX_EPOCH_S)
        helper_id, community_id = _unb64(parts[0]).decode(), _unb64(parts[1]).decode()
    except (NotANumber, binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if expires <= _unix(now):
        return None
    msg = f"device:{helper_id}:{community_id}:{parts[2]}".encode()
    good = [_b64(hmac.new(key, msg, hashlib.sha256).digest()) for key in _verify_keys(settings)]
    if not any(hmac.compare_digest(parts[3].encode(), g.encode()) for g in good):
        return None
    return helper_id, community_id


def contact_view_proof(settings: Settings, offer_id: str, helper_id: str) -> str:
    """The value of the cookie the accepting answer sets: only the device that accepted an
    offer can see the requester's contact again (a forwarded link shows nothing)."""
    msg = f"contact-view:{offer_id}:{helper_id}".encode()
    return _b64(hmac.new(_key(settings), msg, hashlib.sha256).digest())


def verify_token(settings: Settings, token: str, now: datetime) -> LinkClaims:
    """The token's claims, or `LinkTampered` / `LinkExpired`. Constant-time MAC compare."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkTampered("malformed link")
    body, _, mac_text = token.partition(".")
    try:
        mac = _unb64(mac_text)
        expected = [
            hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
            for key in _verify_keys(settings)
        ]
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise LinkTampered("malformed link") from exc
    # Compare against every key (no early exit): the time does not tell which one matched.
    matches = [hmac.compare_digest(mac, e) for e in expected]
    if not any(matches):
        raise LinkTampered("signature mismatch")
    try:
        claims = LinkClaims.model_validate(json.loads(_open(settings, body, matches.index(True))))
    except (binascii.Error, ValueError, ValidationError) as exc:  # signed by us: a key leak?
        raise LinkTampered("unreadable claims") from exc
    if claims.kind != "helper" and (claims.offer_id is None or claims.request_id is None):
        raise LinkTampered("offer link without an offer")
    if _unix(now) >= claims.expires:
        raise LinkExpired("link expired")
    return claims
