"""Staff authentication: one place that checks a presented credential.

Empty credentials never match (an empty setting or `Authorization: Bearer ` is refused, not
compared), comparison is constant-time, and failed attempts are throttled per client
address: after `FAIL_BURST` failures a client gets 429 until its bucket refills (at
`settings.failed_sign_ins_per_minute`, 5 a minute by default), whatever it presents. Tokens
belong to staff accounts (dispatcher/api/staff_accounts.py). The dashboard's browser session
is a signed, expiring cookie naming the account (a new token or a revocation ends it); a
token never travels in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math

from fastapi import Header, HTTPException, Request

from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import DB_RETRY_AFTER_S as DB_RETRY_AFTER_S  # theirs: re-exported
from dispatcher.api.errors import DB_UNAVAILABLE as DB_UNAVAILABLE  # theirs: re-exported
from dispatcher.api.errors import fail
from dispatcher.api.staff_accounts import StaffAccount
from dispatcher.numbers import MAX_EPOCH_S, NotANumber, parse_int
from dispatcher.record.edge import audit

log = logging.getLogger(__name__)

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


def _fail_rate(request: Request) -> float:
    return _deps(request).settings.failed_sign_ins_per_minute


def _refuse_if_throttled(request: Request) -> None:
    """429 before any check once this client spent its failures."""
    wait = _deps(request).limiter.peek(_throttle_key(request), _fail_rate(request), FAIL_BURST)
    if wait > 0:
        seconds = str(max(1, math.ceil(wait)))
        raise HTTPException(
            status_code=429,
            detail=f"too many failed sign-ins from this address; retry in {seconds} s",
            headers={"Retry-After": seconds},
        )


def _spend_failure(request: Request, candidate: str | None) -> None:
    if candidate is not None:  # presented and wrong (empty included)
        _deps(request).limiter.wait_for(_throttle_key(request), _fail_rate(request), FAIL_BURST)


def check_credential(request: Request, candidate: str | None, expected: str) -> bool:
    """True when `candidate` is `expected` (throttled, constant-time, never empty)."""
    _refuse_if_throttled(request)
    if secret_matches(candidate, expected):
        return True
    _spend_failure(request, candidate)
    return False


def authenticate_staff(request: Request, candidate: str | None) -> StaffAccount | None:
    """The live staff account this token belongs to (throttled like every credential)."""
    _refuse_if_throttled(request)
    account = _deps(request).staff_directory.by_token(candidate) if candidate else None
    if account is None:
        _spend_failure(request, candidate)
    return account


def _session_key(request: Request) -> bytes:
    secret = _deps(request).settings.link_secret.get_secret_value().encode()
    return hmac.new(secret, b"neighbour-dispatch/staff-session/v1", hashlib.sha256).digest()


def _session_mac(request: Request, account: StaffAccount, expires: str) -> str:
    # The account's token hash is in the MAC: a new token or a revocation ends its sessions.
    msg = f"{account.name}|{account.token_sha256}|{expires}".encode()
    return hmac.new(_session_key(request), msg, hashlib.sha256).hexdigest()


def new_session(request: Request, account: StaffAccount, now: float | None = None) -> str:
    expires = str(int((now if now is not None else _deps(request).wall()) + SESSION_SECONDS))
    return f"{account.name}:{expires}:{_session_mac(request, account, expires)}"


def session_expiry(cookie: str | None) -> int | None:
    """When a session cookie says it ends (Unix seconds); None: not a cookie we wrote.
    Unverified: only `session_account` says whether the cookie is good."""
    _, _, rest = (cookie or "").partition(":")
    expires, _, _ = rest.partition(":")
    try:
        return parse_int(expires, "session expiry", lo=0, hi=MAX_EPOCH_S)
    except NotANumber:
        return None


def session_account(
    request: Request, cookie: str | None, now: float | None = None
) -> StaffAccount | None:
    name, _, rest = (cookie or "").partition(":")
    expires, _, mac = rest.partition(":")
    until = session_expiry(cookie)
    if until is None:
        return None  # not a cookie we wrote: no session, as for a wrong MAC
    if not name or until < (now if now is not None else _deps(request).wall()):
        return None
    account = _deps(request).staff_directory.by_name(name)
    if account is None:
        return None
    good = _session_mac(request, account, expires)
    return account if hmac.compare_digest(mac.encode(), good.encode()) else None


def session_csrf(request: Request, cookie: str) -> str:
    """The dashboard's anti-CSRF token for this session: derived from the session cookie
    (which a cross-site page can neither read nor send: SameSite=Strict), handed to the
    page by a same-origin JSON call and sent back in a header with every action."""
    msg = b"csrf|" + cookie.encode()
    return hmac.new(_session_key(request), msg, hashlib.sha256).hexdigest()


def behind_tls(request: Request) -> bool:
    """The scheme the client used. uvicorn takes X-Forwarded-Proto/-For only from
    `settings.trusted_proxies` (see serve.py); anyone else's header is ignored."""
    return request.url.scheme == "https"


async def audit_staff(request: Request, account: StaffAccount) -> None:
    """Record who used which route for which community (no bodies, no personal data).
    Without the record there is no service: 503 while PostgreSQL is out of reach."""
    request.state.staff = account
    route = str(getattr(request.scope.get("route"), "path", request.url.path))
    community = request.path_params.get("community_id")
    log.info("staff %s: %s %s", account.name, request.method, route)
    try:
        pool = await _deps(request).pool()
        await audit.staff_used(pool, account.name, request.method, route, community)
    except DB_UNAVAILABLE as exc:
        log.warning(
            "staff audit not written (%s): %s %s refused", type(exc).__name__, request.method, route
        )
        raise fail(
            503,
            "database_unavailable",
            "the database is out of reach: this staff request could not be audited, so it "
            "was not carried out; retry shortly",
            {"Retry-After": DB_RETRY_AFTER_S},
        ) from exc


def ensure_staff_scope(request: Request, community_id: str) -> None:
    account: StaffAccount | None = getattr(request.state, "staff", None)
    if account is not None and not account.may_act_in(community_id):
        raise HTTPException(status_code=403, detail="this staff account is not for that community")


async def require_staff(
    request: Request, authorization: str | None = Header(default=None)
) -> StaffAccount:
    account = authenticate_staff(request, bearer(authorization))
    if account is None:
        raise HTTPException(
            status_code=401, detail="staff token required (Authorization: Bearer …)"
        )
    await audit_staff(request, account)
    return account
