"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dispatcher.api import admin, health, requests
from dispatcher.api.deps import ApiDeps
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.ops import web as ops_web
from dispatcher.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, deps: ApiDeps | None = None) -> FastAPI:
    deps = deps or ApiDeps(settings=settings, sink=KafkaCommandSink(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start = getattr(deps.sink, "start", None)
        if start is not None:
            try:
                await start()
            except Exception as exc:  # readiness reports it; the sink retries on first use
                log.warning("kafka producer not started yet: %s", type(exc).__name__)
        try:
            yield
        finally:
            await deps.close()

    app = FastAPI(
        title="Neighbour help dispatch API",
        version="1",
        description=(
            "Chat-group bots submit help requests; volunteers answer offers through signed links; "
            "staff watch and administer. This service never replaces 120/110/119."
        ),
        lifespan=lifespan,
    )
    app.state.deps = deps
    app.include_router(health.router)
    app.include_router(requests.router)
    app.include_router(admin.router)
    ops_web.install(app, settings)
    return app
