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
    # Bots are checked against the live configuration: not ready until it is read. What a
    # community stored never makes a pod unready (every pod reads the same store: none would
    # be); bots it holds but does not serve are named below and counted by a gauge.
    checks["config"] = "ok" if deps.config.loaded else "loading"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"ready": ready, "checks": checks}
    if unserved := deps.config.unserved_bots():
        body["unserved_bots"] = unserved  # ids only, never a secret
    return JSONResponse(body, status_code=200 if ready else 503)
