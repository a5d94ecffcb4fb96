"""Staff access to the operations pages: one token, from a header, a cookie or `?token=`.

Browsers cannot put headers on an EventSource, so the dashboard trades `?token=` once for
an HttpOnly cookie (SameSite=Strict) and the SSE/JSON endpoints accept that cookie.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

COOKIE = "dispatch_staff"


def token_valid(request: Request, candidate: str | None) -> bool:
    if not candidate:
        return False
    expected = request.app.state.deps.settings.staff_token.get_secret_value()
    return hmac.compare_digest(candidate.encode(), expected.encode())


def presented_token(request: Request) -> str | None:
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer:
        return bearer
    return request.cookies.get(COOKIE) or request.query_params.get("token")


async def require_staff_ops(request: Request) -> None:
    """FastAPI dependency for the ops JSON, SSE and report endpoints."""
    if not token_valid(request, presented_token(request)):
        raise HTTPException(status_code=401, detail="staff token required")
