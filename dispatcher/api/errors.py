"""One shape for every refusal the API writes itself: `{"detail": {"reason", "message"}}`.

`reason` is a stable word (bots and tests branch on it); `message` says what to do.
FastAPI's own 422 for an invalid body keeps its list of field errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import HTTPException


def fail(
    status_code: int, reason: str, message: str, headers: Mapping[str, str] | None = None
) -> HTTPException:
    return HTTPException(
        status_code=status_code,
        detail={"reason": reason, "message": message},
        headers=dict(headers) if headers else None,
    )
