"""Liveness checks nothing external; readiness checks Kafka, PostgreSQL and that the live
configuration is loaded (503 until ready)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dispatcher.record.db import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Kafka and PostgreSQL answer", response_model=None)
async def readyz(request: Request) -> JSONResponse:
    deps = request.app.state.deps
    checks: dict[str, str] = {}

    async def kafka() -> None:
        await deps.sink.check()

    async def postgres() -> None:
        await asyncio.wait_for(ping(await deps.pool()), timeout=3)

    for name, check in (("kafka", kafka), ("postgres", postgres)):
        try:
            await check()
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which and why
            checks[name] = f"unavailable: {type(exc).__name__}"
    # Bots are checked against the live configuration: not ready until it is read (nor, in
    # production, while it holds bots it will not serve: config/bootstrap.SignedBotsView).
    checks["config"] = deps.config.readiness()
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"ready": ready, "checks": checks}
    if unserved := deps.config.unserved_bots():
        body["unserved_bots"] = unserved  # ids only, never a secret; also once ready
    return JSONResponse(body, status_code=200 if ready else 503)
