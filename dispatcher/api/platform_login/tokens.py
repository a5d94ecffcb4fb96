"""The two cookies of a platform login. Pure: `now` is passed in.

- The state cookie (CSRF, RFC 6749 §10.12): set when the page sends the browser to the
  platform; the `state` parameter that comes back must equal its nonce, so a callback URL
  made by someone else (login CSRF) or carried to another browser is refused. It also
  holds where to return (an offer link path, never a URL: no open redirect). WeCom allows
  only [a-zA-Z0-9]{,128} in `state`, hence a hex nonce and the rest in the cookie.
- The session cookie: which helper this browser logged in as, on which platform, until
  when (short: `settings.login_session_seconds`). It names a hash of the platform user id,
  not the id itself.

Both are HMAC-signed with a key derived from `link_secret` for this purpose only; previous
link secrets verify (rotation), nothing is signed with them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.links import _b64, _secrets, _unb64
from dispatcher.settings import Settings

STATE_COOKIE = "dispatch_login_state"
SESSION_COOKIE = "dispatch_login"
STATE_LIFETIME = timedelta(minutes=10)  # the platform's codes live 5 minutes
MAX_COOKIE_CHARS = 2048


def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(
        secret.encode(), f"neighbour-dispatch/platform-login/{purpose}/v1".encode(), hashlib.sha256
    ).digest()


def _seal(settings: Settings, purpose: str, payload: dict[str, object]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    key = _key(settings.link_secret.get_secret_value(), purpose)
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def _unseal(settings: Settings, purpose: str, value: str | None) -> dict[str, object] | None:
    if not value or len(value) > MAX_COOKIE_CHARS or value.count(".") != 1:
        return None
    body, _, mac = value.partition(".")
    try:
        presented = _unb64(mac)
        good = [
            hmac.new(_key(s, purpose), body.encode("ascii"), hashlib.sha256).digest()
            for s in _secrets(settings)
        ]
        if not any([hmac.compare_digest(presented, g) for g in good]):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None


def user_hash(settings: Settings, kind: str, user_id: str) -> str:
    """A keyed hash of a platform user id: what the session cookie and the audit keep."""
    key = _key(settings.link_secret.get_secret_value(), "user")
    return _b64(hmac.new(key, f"{kind}:{user_id}".encode(), hashlib.sha256).digest()[:16])


def account_hashes(settings: Settings, community_id: str, user_id: str) -> list[str]:
    """A roster's platform account as `platform_accounts` keeps it: keyed, so the table names
    nobody; the first under the current link secret, then under each previous one (rotation)."""
    return [
        _b64(
            hmac.new(
                _key(s, "account"), f"{community_id}:{user_id}".encode(), hashlib.sha256
            ).digest()[:16]
        )
        for s in _secrets(settings)
    ]


@dataclass(frozen=True)
class LoginState:
    nonce: str
    kind: str
    return_path: str  # an offer link's path (/l/o/<token>), or the answer page's (/l/me?c=…)
    helper_id: str  # the offer link's helper; "" for the answer page (the roster decides)
    expires: int
    community_id: str = ""  # the answer page's community


def new_state(
    settings: Settings,
    *,
    kind: str,
    return_path: str,
    helper_id: str,
    now: datetime,
    community_id: str = "",
) -> tuple[str, str]:
    """(the `state` parameter for the platform, the cookie value that must come back with it)."""
    nonce = secrets.token_hex(16)
    payload: dict[str, object] = {
        "n": nonce,
        "k": kind,
        "p": return_path,
        "h": helper_id,
        "e": int((now + STATE_LIFETIME).timestamp()),
        "c": community_id,
    }
    return nonce, _seal(settings, "state", payload)


def read_state(settings: Settings, cookie: str | None, now: datetime) -> LoginState | None:
    p = _unseal(settings, "state", cookie)
    if p is None:
        return None
    try:
        state = LoginState(
            nonce=str(p["n"]),
            kind=str(p["k"]),
            return_path=str(p["p"]),
            helper_id=str(p["h"]),
            expires=int(str(p["e"])),
            community_id=str(p.get("c", "")),
        )
    except (KeyError, ValueError):
        return None
    return state if state.expires > now.timestamp() else None


@dataclass(frozen=True)
class LoginSession:
    kind: str
    user: str  # user_hash of the platform user id
    helper_id: str
    community_id: str
    expires: int


def new_session(
    settings: Settings,
    *,
    kind: str,
    user_id: str,
    helper_id: str,
    community_id: str,
    now: datetime,
) -> str:
    payload: dict[str, object] = {
        "k": kind,
        "u": user_hash(settings, kind, user_id),
        "h": helper_id,
        "c": community_id,
        "e": int(now.timestamp()) + settings.login_session_seconds,
    }
    return _seal(settings, "session", payload)


def read_session(settings: Settings, cookie: str | None, now: datetime) -> LoginSession | None:
    """The session, or None when absent, edited, signed with another key, or expired
    (the server decides expiry; the cookie's Max-Age only tidies the browser)."""
    p = _unseal(settings, "session", cookie)
    if p is None:
        return None
    try:
        session = LoginSession(
            kind=str(p["k"]),
            user=str(p["u"]),
            helper_id=str(p["h"]),
            community_id=str(p["c"]),
            expires=int(str(p["e"])),
        )
    except (KeyError, ValueError):
        return None
    return session if session.expires > now.timestamp() else None


def session_is_for(
    settings: Settings,
    session: LoginSession,
    *,
    kind: str,
    platform_user_id: str,
    helper_id: str,
    community_id: str,
) -> bool:
    """Bound to one helper: the same platform, platform user, helper and community."""
    expected = user_hash(settings, kind, platform_user_id)
    return (
        session.kind == kind
        and hmac.compare_digest(session.user.encode(), expected.encode())
        and session.helper_id == helper_id
        and session.community_id == community_id
    )


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
