"""`python -m dispatcher worker`: one Faust dispatch worker process.

Run several with distinct --name (and --web-port) to share the partitions.
"""

from __future__ import annotations

import argparse
import logging

import faust

from dispatcher.logs import configure_logging
from dispatcher.secret_policy import enforce as enforce_secret_policy
from dispatcher.settings import get_settings
from streams.topology import build_topology


def main(argv: list[str]) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher worker",
        description="Run a Faust dispatch worker (dispatch agent, deadline timer, record agent).",
    )
    parser.add_argument("--name", default="worker-1", help="worker name; one data dir per name")
    parser.add_argument(
        "--web-port",
        type=int,
        default=settings.worker_web_port,
        help="port of the worker's web server (/healthz, /stats, /metrics)",
    )
    args = parser.parse_args(argv)
    enforce_secret_policy(settings, "the worker")
    settings = settings.model_copy(update={"worker_web_port": args.web_port})
    configure_logging(settings, args.name)
    topo = build_topology(settings, args.name)
    worker = faust.Worker(
        topo.app,
        loglevel=logging.getLevelName(logging.getLogger().level),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    worker.execute_from_commandline()
    return 0
