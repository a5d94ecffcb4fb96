"""Staff authentication: a bearer token compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Header, HTTPException, Request


async def require_staff(request: Request, authorization: str | None = Header(default=None)) -> None:
    settings = request.app.state.deps.settings
    expected = settings.staff_token.get_secret_value()
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            status_code=401, detail="staff token required (Authorization: Bearer …)"
        )
