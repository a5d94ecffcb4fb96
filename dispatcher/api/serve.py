"""`python -m dispatcher api`: serve the HTTP API with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from dispatcher.api.app import create_app
from dispatcher.logs import configure_logging
from dispatcher.secret_policy import enforce as enforce_secret_policy
from dispatcher.settings import get_settings


def main(argv: list[str]) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher api", description="Run the HTTP API."
    )
    parser.add_argument("--host", default=settings.api_host)
    parser.add_argument("--port", type=int, default=settings.api_port)
    args = parser.parse_args(argv)
    enforce_secret_policy(settings, "the api")
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        # uvloop and httptools: about half the API's CPU per request (docs/performance-log.md).
        loop="uvloop",
        http="httptools",
        # Forwarded scheme and client address only from configured proxies (never the
        # FORWARDED_ALLOW_IPS environment default, which trusts 127.0.0.1).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=settings.api_keepalive_seconds,
    )
    return 0
