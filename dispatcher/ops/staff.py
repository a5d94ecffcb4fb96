"""Staff access to the operations pages: the bearer token, or the dashboard's session cookie.

Browsers cannot put headers on an EventSource, so the dashboard signs in once with a POSTed
form and gets an HttpOnly, SameSite=Strict session cookie (Secure behind TLS); the SSE/JSON
endpoints accept that cookie. A token in the URL query is never accepted.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from dispatcher.api.auth import bearer, session_valid, staff_token_ok

COOKIE = "dispatch_staff"


def staff_signed_in(request: Request) -> bool:
    token = bearer(request.headers.get("authorization"))
    if token is not None:
        return staff_token_ok(request, token)
    return session_valid(request, request.cookies.get(COOKIE))


async def require_staff_ops(request: Request) -> None:
    """FastAPI dependency for the ops JSON, SSE and report endpoints."""
    if not staff_signed_in(request):
        raise HTTPException(status_code=401, detail="staff token required")
