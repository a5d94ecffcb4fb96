"""`GET /ops/v1/health`: the stream's health for the dashboard's charts (staff).

The figures and where they come from: dispatcher/ops/stream_health.py. District-wide staff
only: no request or person is in them, but endpoint names can name other communities."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from dispatcher.api.deps import ApiDeps
from dispatcher.api.staff_pages import require_staff_ops
from dispatcher.ops.stream_health import StreamHealth

router = APIRouter(prefix="/ops/v1", tags=["ops"], dependencies=[Depends(require_staff_ops)])


def sampler(request: Request) -> StreamHealth:
    state: Any = request.app.state
    if getattr(state, "stream_health", None) is None:
        deps: ApiDeps = state.deps
        state.stream_health = StreamHealth(deps.settings, wall=deps.wall)
    health: StreamHealth = state.stream_health
    return health


@router.get("/health", summary="Consumer lag, rates, dead letters, workers, push failures")
async def stream_health(request: Request) -> JSONResponse:
    if not request.state.staff.district_wide:
        raise HTTPException(status_code=403, detail="district-wide staff only")
    view = await sampler(request).view()
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


async def close(app: FastAPI) -> None:
    health: StreamHealth | None = getattr(app.state, "stream_health", None)
    if health is not None:
        await health.close()
