"""Neighbours on the roster before a test's first request, with the worker and the API
running: what many integration modules' `api` fixture writes out (session 39's first user;
the modules from before keep their own copy until moved here)."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from dispatcher.testing.stack import LocalStack
from tests.support import builders

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def started_with(
    stack: LocalStack,
    community: str,
    helper_ids: Iterable[str],
    skills: Iterable[str] = ("driving",),
) -> LocalStack:
    """`stack` with a worker and the API started and `helper_ids` registered in
    `community` (builders.helper: building b3 of 图强小区, a webhook channel)."""
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        for hid in helper_ids:
            body = builders.helper(hid, community, list(skills))
            r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
            assert r.status_code == 202, r.text
    return stack
