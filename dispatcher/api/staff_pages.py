"""Staff access to the operations pages: the bearer token, or the dashboard's session cookie.

Browsers cannot put headers on an EventSource, so the dashboard signs in once with a POSTed
form and gets an HttpOnly, SameSite=Strict session cookie (Secure behind TLS); the SSE/JSON
endpoints accept that cookie. A token in the URL query is never accepted.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from dispatcher.api.auth import audit_staff, authenticate_staff, bearer, session_account
from dispatcher.api.staff_accounts import StaffAccount

COOKIE = "dispatch_staff"


def signed_in_staff(request: Request) -> StaffAccount | None:
    token = bearer(request.headers.get("authorization"))
    if token is not None:
        return authenticate_staff(request, token)
    return session_account(request, request.cookies.get(COOKIE))


async def require_staff_ops(request: Request) -> StaffAccount:
    """FastAPI dependency for the ops JSON, SSE and report endpoints."""
    account = signed_in_staff(request)
    if account is None:
        raise HTTPException(status_code=401, detail="staff token required")
    await audit_staff(request, account)
    return account
