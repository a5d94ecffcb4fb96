"""A real local receiver for the helpers' phones ("phones", a private webhook) and a WeCom
group robot ("grid-robot", at ROBOT), configured as the worker's push endpoints; then the
worker and API start. For the tests of what reaches a helper privately and what never
reaches a group."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack

SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
ROBOT = "/cgi-bin/webhook/send"


@asynccontextmanager
async def phones_and_robot(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as receiver:
        endpoints = [
            {"name": "phones", "kind": "webhook", "url": receiver.url("/phones"), "secret": SECRET},
            {
                "name": "grid-robot",
                "kind": "wecom",
                "url": receiver.url(ROBOT),
                "token": "KEY",
                "batch_window_seconds": 0,
            },
        ]
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps(endpoints)
        stack.start_worker()
        await stack.start_api()
        yield receiver


@asynccontextmanager
async def phones_with_rosters(
    stack: LocalStack, rosters: Sequence[tuple[str, str, int]]
) -> AsyncIterator[PushReceiver]:
    """The phones webhook as the worker's one push endpoint, worker and API started (the
    endpoints are read at start, then left out of later starts), and each (community,
    ledger CSV, rows it imports) imported through the staff API."""
    async with PushReceiver() as receiver:
        endpoint = {"name": "default", "kind": "webhook", "url": receiver.url("/phones")}
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([{**endpoint, "secret": SECRET}])
        stack.start_worker()
        await stack.start_api()
        stack.extra_env.pop("DISPATCH_PUSH_ENDPOINTS")
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            for community, ledger, imported in rosters:
                r = await client.post(
                    f"/v1/admin/communities/{community}/roster",
                    content=ledger.encode(),
                    headers={
                        "Authorization": "Bearer dev-staff-token",
                        "content-type": "text/csv; charset=utf-8",
                    },
                )
                assert r.status_code == 200 and r.json()["imported"] == imported, r.text
        yield receiver


def pushes(receiver: PushReceiver, kind: str, helper_id: str | None = None) -> list[Any]:
    """The data of the pushes of `kind` the phones received (for `helper_id`, if given)."""
    found = []
    for r in receiver.for_path("/phones"):
        data = r.json()["data"]
        if data.get("kind") == kind and helper_id in (None, data.get("recipient")):
            found.append(data)
    return found
