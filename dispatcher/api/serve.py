"""`python -m dispatcher api`: serve the HTTP API with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from dispatcher.api.app import create_app
from dispatcher.logs import configure_logging
from dispatcher.settings import get_settings


def main(argv: list[str]) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher api", description="Run the HTTP API."
    )
    parser.add_argument("--host", default=settings.api_host)
    parser.add_argument("--port", type=int, default=settings.api_port)
    args = parser.parse_args(argv)
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0
