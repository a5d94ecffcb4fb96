"""One shape for every refusal the API writes itself: `{"detail": {"reason", "message"}}`.

`reason` is a stable word (bots and tests branch on it); `message` says what to do.
An invalid request (body, query, path or header) keeps FastAPI's 422 list of field errors,
`{"detail": [{"type", "loc", "msg"}]}` (`type` is the stable word there), answered by
`validation_refused` for every route, the bot intake's below-the-framework path too.
PostgreSQL out of reach where a route does not answer it itself (the intake does, with the
call-now advice for a life-threatening message) is 503 `database_unavailable` with
Retry-After (`database_unreachable`), never a bare 500; an OSError that is not PostgreSQL's
(a file, another socket: `postgres_unreachable`) is the generic 500, not that lie.

The pages people open from a message (`/l/…`, `/join/…`, `/card/…`) answer a browser those
same refusals as a page in Chinese, with the same status and Retry-After (`refused`,
`wants_page`): too many taps, a link cut short, a busy system, the address bar reopening a
button's POST address (sent to the page that button belongs to). A client that does not ask
for HTML there (a card's JSON press, a script) and every other path keep the JSON above.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from types import TracebackType

import asyncpg
from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatcher.api.pages import e, page

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


async def validation_refused(request: Request, exc: RequestValidationError) -> Response:
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
    if wants_page(request):  # a token too long, a button's path or query not ours
        return _page_for(request, 422, None, {})
    return JSONResponse(status_code=422, content={"detail": errors})


# asyncpg's own errors for a server away, starting, stopping or out of connections.
_ASYNCPG_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)
# PostgreSQL out of reach, starting, stopping or out of connections: worth a retry, unlike a
# statement it refused. Every OSError, because asyncpg re-raises its socket's error as it is
# (connect_utils._connect): ConnectionRefusedError, TimeoutError (a connect or an acquire
# timing out), socket.gaierror (the host's name), FileNotFoundError (a Unix socket's path
# with the server stopped), a plain OSError for EHOSTUNREACH or ENETUNREACH, or asyncio's
# plain "Multiple exceptions" OSError when the host has several addresses (localhost: ::1
# and 127.0.0.1). A narrower class list would answer those outages 500. So an `except` of
# these around anything but PostgreSQL also catches other OSErrors: such a site, and the
# app's handler, asks `postgres_unreachable` which it is.
DB_UNAVAILABLE = (OSError, *_ASYNCPG_UNAVAILABLE)


def postgres_unreachable(exc: BaseException) -> bool:
    """Whether `exc`, one of `DB_UNAVAILABLE`, is PostgreSQL's: one of asyncpg's errors, or
    an OSError raised in asyncpg's code (its traceback, or that of an error it was raised
    from or while handling, passes through asyncpg: a connect, an acquire, a query). An
    OSError of a file, of another socket or of a timeout around something else is not."""
    if isinstance(exc, _ASYNCPG_UNAVAILABLE):
        return True
    if not isinstance(exc, OSError):
        return False
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or any(error is known for known in seen):
            continue
        seen.append(error)
        if _through_asyncpg(error.__traceback__):
            return True
        pending += [error.__cause__, error.__context__]
    return False


def _through_asyncpg(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module == "asyncpg" or module.startswith("asyncpg."):
            return True
        tb = tb.tb_next
    return False


async def database_unreachable(request: Request, exc: Exception) -> Response:
    """PostgreSQL out of reach (`DB_UNAVAILABLE`) in a route that does not answer it itself:
    503 with a reason and Retry-After, never a bare 500 (a caller retries a 503, and a
    platform or a bot's queue does so on its own). Logged with the route's template and the
    error's class only: a path can hold a request id or a link's token, a message what was
    sent. An OSError that is not PostgreSQL's goes on to the generic 500 (Starlette's
    ServerErrorMiddleware, its traceback logged): a 503 `database_unavailable` would send
    a caller retrying an error a retry does not mend, and staff looking at the database."""
    if not postgres_unreachable(exc):
        raise exc
    route = request.scope.get("route")
    where = getattr(route, "path", "unmatched")
    log.warning(
        "%s %s answered 503: PostgreSQL out of reach (%s)",
        request.method,
        where,
        type(exc).__name__,
    )
    if wants_page(request):
        return _page_for(request, 503, None, {"Retry-After": DB_RETRY_AFTER_S})
    message = f"the database is out of reach ({type(exc).__name__}); please retry shortly"
    return JSONResponse(
        status_code=503,
        content={"detail": {"reason": "database_unavailable", "message": message}},
        headers={"Retry-After": DB_RETRY_AFTER_S},
    )


# The pages opened from a message: a phone's browser, where JSON in English helps nobody.
PAGE_PREFIXES = ("/l/", "/join/", "/card/")
ANSWER_PAGE = "/l/me"  # `links.ANSWER_PATH`: its buttons POST to /l/me/offers/{id}/{action}
# The links whose buttons POST below them: /l/o/{token}/p/{step}, /l/h/{token}/{status}.
_TOKEN_PAGES = ("/l/o/", "/l/h/", "/l/w/")


def wants_page(request: Request) -> bool:
    """A browser on one of the pages opened from a message: it asks for HTML (every
    browser's navigation and form post does) or says it navigates. A JSON body (a card's
    JSON press) or a client that asks for no HTML keeps the JSON refusal."""
    path = request.url.path
    if not path.startswith(PAGE_PREFIXES):
        return False
    if request.headers.get("content-type", "").lower().startswith("application/json"):
        return False
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept or request.headers.get("sec-fetch-mode") == "navigate"


def _owning_page(request: Request) -> str | None:
    """The page whose button POSTs to this path, or None: /l/o/{token} for its buttons'
    /l/o/{token}/p/{step}, /l/h/{token} for /l/h/{token}/{status}, /l/me for its answers.
    Built from the raw path (a token's escapes kept), so it never leaves this site."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    if path.startswith(ANSWER_PAGE + "/"):
        found = ANSWER_PAGE
    elif path.startswith(_TOKEN_PAGES):
        parts = path.split("/")
        found = "/".join(parts[:4]) if len(parts) > 4 and parts[3] else ""
    else:
        return None
    if not found or found == path or "//" in found or "\\" in found:
        return None
    query = request.url.query
    return found + (f"?{query}" if query and found == ANSWER_PAGE else "")


_BUSY = "系统繁忙，请{wait}秒后再试。紧急情况请直接拨打120。"


def _page_for(
    request: Request, status_code: int, detail: object, headers: Mapping[str, str]
) -> Response:
    """The refusal as a page in Chinese: what happened and what to do, same status."""
    wait = headers.get("Retry-After")
    reason = detail.get("reason") if isinstance(detail, dict) else None
    if status_code == 429:
        title, said, tone = "操作太频繁", f"操作太频繁，请稍等{wait or 60}秒再试。", "warn"
    elif status_code == 503:
        title, said, tone = "系统繁忙", _BUSY.format(wait=wait or 5), "warn"
    elif reason == "unknown_card":
        title, said, tone = (
            "联络卡无法识别",
            "这张联络卡无法识别。请联系社区重新领取联络卡。危急情况请直接拨打120。",
            "bad",
        )
    elif status_code in (404, 422):
        title, said, tone = "链接无效", "这条链接不完整或已被修改。请从原消息中重新打开。", "bad"
    elif status_code == 405:
        title, said, tone = "请从消息中的链接打开", "请从消息中的链接打开本页面。", "warn"
    else:
        title, said, tone = (
            "无法处理",
            "这次操作没有完成。请从消息中的链接重新打开，或联系社区工作人员。",
            "bad",
        )
    answer = page(title, f"<p>{e(said)}</p>", tone=tone, status_code=status_code)
    for name in ("Retry-After", "Allow"):
        if name in headers:
            answer.headers[name] = headers[name]
    return answer


async def refused(request: Request, exc: StarletteHTTPException) -> Response:
    """Every HTTPException: FastAPI's JSON answer (`{"detail": …}`, its headers), but a
    page in Chinese for a browser on a page opened from a message (`wants_page`); there a
    GET of a button's POST address (the address bar after a tap, reopened) is sent to the
    page the button belongs to, which shows where things stand now (opening never acts)."""
    if not wants_page(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 405 and request.method in ("GET", "HEAD"):
        owner = _owning_page(request)
        if owner is not None:
            return RedirectResponse(owner, status_code=303, headers={"Cache-Control": "no-store"})
    return _page_for(request, exc.status_code, exc.detail, exc.headers or {})
