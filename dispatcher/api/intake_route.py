"""`POST /v1/requests` served below the framework (issue 18: the bot intake's hot path).

Through the FastAPI stack a request passed eight middleware layers, the router's scan of
every route and FastAPI's request handler before reaching `requests.submit_request`,
which reads its own headers and body anyway. This ASGI layer, the outermost of the app's
own middlewares (inside Starlette's `ServerErrorMiddleware`, so an unhandled error is
still the same 500), calls that route function directly and does itself what the layers
below it did for that route:

- `HttpMetricsMiddleware`: the request counted and timed under the route template
  `/v1/requests` (a declared Content-Length refused before routing: `unmatched`, as before);
- `UrlGuard`: nothing to do (the path is exactly `/v1/requests`; a request with a query
  string takes the framework's path);
- `BodyLimit`: the declared Content-Length (400, 413) and the bytes actually received
  (413), with the same limit and answers;
- the exception middlewares: `HTTPException` and `RequestValidationError` answered by the
  app's own exception handlers (the same JSON shapes, status codes and headers).

With `timing` (`DISPATCH_SERVER_TIMING`), each answer also carries `Server-Timing`: the
phases of this request (`api/server_timing.py`).

Every other request (another path or method, a query string, a `root_path`) goes down the
framework's stack unchanged.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatcher.api import server_timing
from dispatcher.api.body_limit import counting, declared_refusal, reply
from dispatcher.ops.api_metrics import HTTP_REQUESTS, HTTP_SECONDS

PATH = "/v1/requests"
Endpoint = Callable[[Request], Awaitable[Response]]


class IntakeRoute:
    def __init__(self, app: ASGIApp, endpoint: Endpoint, limit: int, timing: bool = False) -> None:
        self.app = app
        self.endpoint = endpoint
        self.limit = limit
        self.timing = timing
        self._routed = HTTP_SECONDS.labels("POST", PATH)
        self._unrouted = HTTP_SECONDS.labels("POST", "unmatched")
        # The common case's counter, looked up once.
        self._accepted = HTTP_REQUESTS.labels("POST", PATH, "202")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("query_string")
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        timer = self._routed
        phases, token = server_timing.begin(start) if self.timing else (None, None)

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                now = time.perf_counter()
                timer.observe(now - start)
                if phases is not None:
                    headers = [
                        *message.get("headers", ()),
                        (server_timing.HEADER, phases.header(now)),
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        route = PATH
        try:
            refusal = declared_refusal(scope, self.limit)
            if refusal is not None:
                timer, route = self._unrouted, "unmatched"  # refused before routing, as before
                await reply(observed, *refusal)
                return
            await self._serve(scope, counting(receive, self.limit), observed)
        finally:
            if token is not None:
                server_timing.end(token)
            if status == 202 and route == PATH:
                self._accepted.inc()
            else:
                HTTP_REQUESTS.labels("POST", route, str(status)).inc()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise  # ServerErrorMiddleware's 500, as for any route
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The handler Starlette's exception middleware would pick: by status code for an
    HTTPException, then by the exception's classes; never the 500/Exception handler (that
    one belongs to ServerErrorMiddleware)."""
    if isinstance(exc, HTTPException) and exc.status_code != 500:
        by_status = handlers.get(exc.status_code)
        if by_status is not None:
            return by_status
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
