"""One shape for every refusal the API writes itself: `{"detail": {"reason", "message"}}`.

`reason` is a stable word (bots and tests branch on it); `message` says what to do.
An invalid request (body, query, path or header) keeps FastAPI's 422 list of field errors,
`{"detail": [{"type", "loc", "msg"}]}` (`type` is the stable word there), answered by
`validation_refused` for every route, the bot intake's below-the-framework path too.
PostgreSQL out of reach where a route does not answer it itself (the intake does, with the
call-now advice for a life-threatening message) is 503 `database_unavailable` with
Retry-After (`database_unreachable`), never a bare 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

DB_RETRY_AFTER_S = "5"

# A lone surrogate (JSON's "\ud83d", half an emoji cut off by a bot's `text.slice`) has no
# UTF-8: a JSON answer quoting one fails its own encoding, a 500.
_SURROGATE = re.compile("[\ud800-\udfff]")


def fail(
    status_code: int, reason: str, message: str, headers: Mapping[str, str] | None = None
) -> HTTPException:
    return HTTPException(
        status_code=status_code,
        detail={"reason": reason, "message": message},
        headers=dict(headers) if headers else None,
    )


def _encodable(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _where(part: object) -> str | int:
    return part if isinstance(part, int) else _encodable(str(part))


async def validation_refused(request: Request, exc: RequestValidationError) -> JSONResponse:
    """The 422 for an invalid request: each error's `type`, `loc` and `msg`, never its
    `input` or `ctx` (FastAPI's default handler echoes what was sent: a phone or an address
    back to the caller, and a lone surrogate in it fails the answer's encoding, a 500); the
    names in `loc` (a sent key can be one) and messages with a lone surrogate replaced."""
    errors = [
        {
            "type": _encodable(str(error.get("type", ""))),
            "loc": [_where(part) for part in error.get("loc", ())],
            "msg": _encodable(str(error.get("msg", ""))),
        }
        for error in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


async def database_unreachable(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL out of reach (`auth.DB_UNAVAILABLE`) in a route that does not answer it
    itself: 503 with a reason and Retry-After, never a bare 500 (a caller retries a 503, and
    a platform or a bot's queue does so on its own). Logged with the route's template and the
    error's class only: a path can hold a request id or a link's token, a message what was
    sent."""
    route = request.scope.get("route")
    where = getattr(route, "path", "unmatched")
    log.warning(
        "%s %s answered 503: PostgreSQL out of reach (%s)",
        request.method,
        where,
        type(exc).__name__,
    )
    message = f"the database is out of reach ({type(exc).__name__}); please retry shortly"
    return JSONResponse(
        status_code=503,
        content={"detail": {"reason": "database_unavailable", "message": message}},
        headers={"Retry-After": DB_RETRY_AFTER_S},
    )
