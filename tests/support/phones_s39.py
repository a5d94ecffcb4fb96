"""A running stack whose helpers are reached at one webhook endpoint, `phones` (a local
receiver's /phones), the ladder on a time scale: session 39's push tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack, Proc
from tests.support import builders

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
CONTACT_PHONE = "13912345678"  # the requester's (tests/support/builders.py)


class Phones:
    def __init__(self, stack: LocalStack, receiver: PushReceiver, worker: Proc) -> None:
        self.stack, self.receiver, self.worker = stack, receiver, worker

    def to(self, helper_id: str, rid: str, *kinds: str) -> list[dict[str, Any]]:
        """The pushes of those kinds about `rid` the endpoint took for `helper_id`."""
        out = []
        for r in self.receiver.for_path("/phones"):
            data = r.json()["data"] if r.status == 200 else {}
            what = (data.get("request_id"), data.get("recipient"))
            if what == (rid, helper_id) and data.get("kind") in kinds:
                out.append(data)
        return out


@asynccontextmanager
async def phones(stack: LocalStack, scale: float, *communities: str) -> AsyncIterator[Phones]:
    """The worker and the API of `stack`, the ladder `1 / scale` times faster."""
    async with PushReceiver() as receiver:
        endpoints = [
            {"name": "phones", "kind": "webhook", "url": receiver.url("/phones"), "secret": SECRET}
        ]
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps(endpoints)
        stack.extra_env["DISPATCH_PLAN_TIME_SCALE"] = str(scale)
        worker = stack.start_worker()
        stack.bot_communities.update(communities)
        await stack.start_api()
        yield Phones(stack, receiver, worker)


def module_phones(scale: float, *communities: str) -> tuple[Any, Any]:
    """A test module's `run` (the stack on `phones`, module-scoped) and `api` fixtures:
    `run, api = module_phones(SCALE, COMMUNITY)`."""

    @pytest.fixture(scope="module")
    async def run(stack: LocalStack) -> AsyncIterator[Phones]:
        async with phones(stack, scale, *communities) as running:
            yield running

    @pytest.fixture(scope="module")
    def api(run: Phones) -> LocalStack:
        return run.stack

    return run, api


async def put_helper(
    client: httpx.AsyncClient, helper_id: str, community: str, phone: str, **kw: Any
) -> None:
    """A driver reached at `phones`."""
    body = builders.helper(
        helper_id, community, ["driving"], channels=["phones"], phone=phone, **kw
    )
    r = await client.put(f"/v1/admin/helpers/{helper_id}", json=body, headers=STAFF)
    assert r.status_code == 202, r.text


async def new_request(client: httpx.AsyncClient, community: str, **kw: Any) -> str:
    """A request through the staff API (no chat source), its id."""
    r = await client.post(
        "/v1/requests", json=builders.request(community, source=None, **kw), headers=STAFF
    )
    assert r.status_code == 202, r.text
    return str(r.json()["request_id"])
