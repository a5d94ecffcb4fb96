"""The API app served in-process to an httpx client: for unit tests whose PostgreSQL and
Kafka are fakes (`ApiDeps(_pool=…, sink=…)`), so a route's parsing and refusals run for real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def api_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
