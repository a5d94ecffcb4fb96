"""The one shared HTTP client, and a log filter that keeps robot credentials out of logs.

httpx logs every request URL at INFO; WeCom/DingTalk put the credential in the query (a
DingTalk sessionWebhook its `session`) and Feishu in the path, so those parts are masked
before any handler sees the record.
"""

from __future__ import annotations

import asyncio
import logging
import re
import select
import socket
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import httpcore
import httpx
from httpx._client import USE_CLIENT_DEFAULT, ClientState

from dispatcher.push.egress import PUBLIC_ONLY, EgressPolicy
from dispatcher.push.plain_http import PlainHttpTransport, socket_readable

_HTTPX_LOG = logging.getLogger("httpx")  # httpx logs each request here (at INFO)
# Every query value of a logged URL: platforms put credentials there under many names
# (key, access_token, sign, session, corpsecret, appsecret, code...), so none is kept.
_SECRET_QUERY = re.compile(r"([?&][^=&\s\"'?]+)=[^&\s\"']*")
_FEISHU_HOOK = re.compile(r"(/bot/v2/hook/)[^?\s\"'/]+")


def redact(text: str) -> str:
    return _FEISHU_HOOK.sub(r"\1***", _SECRET_QUERY.sub(r"\1=***", text))


class RedactCredentialsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(str(a)) if _looks_like_url(a) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def _looks_like_url(value: object) -> bool:
    return isinstance(value, httpx.URL | str) and "://" in str(value)


_FILTER = RedactCredentialsFilter()


def install_log_redaction() -> None:
    """Idempotent: attach the filter to httpx's loggers."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def make_client(
    *,
    max_connections: int = 256,
    max_keepalive: int = 64,
    timeout: float = 10.0,
    trust_env: bool = False,
    egress: EgressPolicy = PUBLIC_ONLY,
) -> httpx.AsyncClient:
    """A client for all endpoints. Per-endpoint concurrency (EndpointConfig.concurrency)
    keeps one dead endpoint from taking the whole pool: keep max_connections above
    endpoints x concurrency. Redirects are never followed (a 3xx is a failure), so an
    endpoint cannot bounce us to an unconfigured host; a name that resolves inside the
    deployment is refused unless `egress` lists it (dispatcher/push/egress.py)."""
    install_log_redaction()
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
    fallback = httpx.AsyncHTTPTransport(limits=limits, trust_env=trust_env)
    # httpx offers no switch for the pool's network backend; httpcore's pool takes one.
    fallback._pool._network_backend = KeptAliveBackend(egress)
    return _PushClient(
        # Plain-http endpoints (a relay on the LAN) on our asyncio + httptools connections;
        # https and the rest on httpx's own transport (dispatcher/push/plain_http.py).
        transport=PlainHttpTransport(fallback, limits, egress),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=trust_env,  # no proxy from the environment unless asked
    )


class _NoCookies(httpx.Cookies):
    """Always empty: a `Set-Cookie` from an endpoint is not kept."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class _PushClient(httpx.AsyncClient):
    """httpx's client, keeping no cookies: a push endpoint (a relay, a robot) is stateless,
    so nothing one sets is ever sent back, and httpx's cookie jar does not parse every
    answer (≈ 5 % of a POST's CPU)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("the push client keeps no cookies")

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = USE_CLIENT_DEFAULT,
        follow_redirects: Any = USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """httpx's `send` as the push client uses it (no auth, no redirects followed, no
        cookies, no event hooks, the answer read whole): the transport's answer, read.

        What httpx's own `send` adds around the transport does nothing for such a client
        but cost: its auth and redirect generators, and the stream wrapper that times the
        answer, which refers to the response that refers to it. That reference cycle made
        every POST ~23 objects that only the cyclic collector frees (the worker's
        garbage: issue 18, docs/performance-log.md session 24). Any other use goes to
        httpx's `send` unchanged. The httpx internals used are pinned by
        tests/integration/test_push_client_send.py."""
        if (
            stream
            or auth is not USE_CLIENT_DEFAULT
            or follow_redirects is not USE_CLIENT_DEFAULT
            or self.follow_redirects
            or self.auth is not None
            or any(self.event_hooks.values())
        ):
            return await super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        self._state = ClientState.OPENED
        self._set_timeout(request)
        transport = self._transport_for_url(request.url)
        start = time.perf_counter()
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as httpx's `request_context` does
            raise
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        response.elapsed = timedelta(seconds=time.perf_counter() - start)
        if _HTTPX_LOG.isEnabledFor(logging.INFO):
            _HTTPX_LOG.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response


class KeptAliveStream(httpcore.AsyncNetworkStream):
    """One pooled connection, as httpcore's AnyIO stream, but asked "has the server
    closed you?" (which httpcore asks of every pooled connection several times per
    request) it polls its socket directly. AnyIO answers by building the socket's whole
    attribute table, a getpeername() call included, every time: with 16 kept-alive
    connections that was half the CPU of each POST (bench notify --batch-max 1)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return KeptAliveStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None and hasattr(select, "poll"):
            return socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class KeptAliveBackend(httpcore.AsyncNetworkBackend):
    """httpcore's AnyIO backend, its streams wrapped in `KeptAliveStream`, connecting only
    where the egress policy allows (TLS still checks the URL's name: httpcore passes it as
    the server name, whichever address the stream reached)."""

    def __init__(self, egress: EgressPolicy = PUBLIC_ONLY) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._egress = egress

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._egress.addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host}") from None
        except OSError as exc:  # refused, or the name did not resolve: httpx's ConnectError
            raise httpcore.ConnectError(str(exc)) from exc
        for i, address in enumerate(addresses):
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError:
                if i == len(addresses) - 1:
                    raise
            else:
                return KeptAliveStream(stream)
        raise AssertionError("unreachable: `addresses` returns at least one or raises")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return KeptAliveStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
