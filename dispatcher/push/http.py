"""The one shared HTTP client, and a log filter that keeps robot credentials out of logs.

httpx logs every request URL at INFO; WeCom/DingTalk put the credential in the query (a
DingTalk sessionWebhook its `session`) and Feishu in the path, so those parts are masked
before any handler sees the record.
"""

from __future__ import annotations

import logging
import re

import httpx

_SECRET_QUERY = re.compile(r"(?i)\b(key|access_token|sign|timestamp|session)=[^&\s\"']*")
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
) -> httpx.AsyncClient:
    """A client for all endpoints. Per-endpoint concurrency (EndpointConfig.concurrency)
    keeps one dead endpoint from taking the whole pool: keep max_connections above
    endpoints x concurrency. Redirects are never followed (a 3xx is a failure), so an
    endpoint cannot bounce us to an unconfigured host."""
    install_log_redaction()
    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive
        ),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=trust_env,  # no proxy from the environment unless asked
    )
