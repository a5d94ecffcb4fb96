"""The helpers' phones as the worker's one push endpoint, "default" (a local receiver's
/phones, the endpoint a helper profile names by default), the worker and API started, and
these helpers put on the roster through the staff API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support.platform_flow import PHONE_SECRET

STAFF = {"Authorization": "Bearer dev-staff-token"}


@asynccontextmanager
async def default_phones(
    stack: LocalStack, worker: str, helpers: Sequence[dict[str, Any]]
) -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as receiver:
        phones = {
            "name": "default",
            "kind": "webhook",
            "url": receiver.url("/phones"),
            "secret": PHONE_SECRET,
        }
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([phones])
        stack.start_worker(worker)
        await stack.start_api()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as c:
            for body in helpers:
                r = await c.put(f"/v1/admin/helpers/{body['helper_id']}", json=body, headers=STAFF)
                assert r.status_code == 202, r.text
        yield receiver
