"""Staff authentication: one place that checks a presented credential.

Empty credentials never match (an empty setting or `Authorization: Bearer ` is refused, not
compared), comparison is constant-time, and failed attempts are throttled per client
address: after `FAIL_BURST` failures a client gets 429 until its bucket refills, whatever
it presents. The dashboard's browser session is a signed, expiring cookie derived from the
staff token (rotating the token ends every session); the token itself never travels in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from fastapi import Header, HTTPException, Request

from dispatcher.api.deps import ApiDeps

FAIL_RATE_PER_MINUTE = 5.0
FAIL_BURST = 10.0
SESSION_SECONDS = 12 * 3600


def secret_matches(candidate: str | None, expected: str) -> bool:
    """Constant-time equality that never accepts an empty candidate or an empty secret."""
    if not candidate or not expected:
        return False
    return hmac.compare_digest(candidate.encode(), expected.encode())


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()  # "" for `Bearer `: presented, and refused


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    return deps


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _throttle_key(request: Request) -> tuple[str, ...]:
    return ("staff-login-failures", client_address(request))


def check_credential(request: Request, candidate: str | None, expected: str) -> bool:
    """True when `candidate` is `expected`; a throttled client gets 429 before any check."""
    limiter = _deps(request).limiter
    key = _throttle_key(request)
    wait = limiter.peek(key, FAIL_RATE_PER_MINUTE, FAIL_BURST)
    if wait > 0:
        seconds = str(max(1, math.ceil(wait)))
        raise HTTPException(
            status_code=429,
            detail=f"too many failed sign-ins from this address; retry in {seconds} s",
            headers={"Retry-After": seconds},
        )
    if secret_matches(candidate, expected):
        return True
    if candidate is not None:  # presented and wrong (empty included): spend a failure token
        limiter.wait_for(key, FAIL_RATE_PER_MINUTE, FAIL_BURST)
    return False


def staff_token_ok(request: Request, candidate: str | None) -> bool:
    expected = _deps(request).settings.staff_token.get_secret_value()
    return check_credential(request, candidate, expected)


def _session_key(request: Request) -> bytes:
    token = _deps(request).settings.staff_token.get_secret_value().encode()
    return hmac.new(token, b"neighbour-dispatch/staff-session/v1", hashlib.sha256).digest()


def new_session(request: Request, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    mac = hmac.new(_session_key(request), str(expires).encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def session_valid(request: Request, cookie: str | None, now: float | None = None) -> bool:
    if not cookie or not _deps(request).settings.staff_token.get_secret_value():
        return False
    expires, _, mac = cookie.partition(".")
    if not expires.isdigit() or int(expires) < (now or time.time()):
        return False
    good = hmac.new(_session_key(request), expires.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac.encode(), good.encode())


def behind_tls(request: Request) -> bool:
    """The scheme the client used. uvicorn takes X-Forwarded-Proto/-For only from
    `settings.trusted_proxies` (see serve.py); anyone else's header is ignored."""
    return request.url.scheme == "https"


async def require_staff(request: Request, authorization: str | None = Header(default=None)) -> None:
    if not staff_token_ok(request, bearer(authorization)):
        raise HTTPException(
            status_code=401, detail="staff token required (Authorization: Bearer …)"
        )
