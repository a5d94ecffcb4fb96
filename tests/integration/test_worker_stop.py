"""Stopping a worker while its pushes are in flight (streams/faust_stop.py).

Before: Faust waited at stop until every record its streams held was acknowledged, and a
record whose deliveries were still pending never was, so a SIGTERMed worker waited until it
was killed. Now it lets those records go after `DISPATCH_STOP_DRAIN_SECONDS`, unacknowledged
and uncommitted, and exits; the next start pushes them again, once the worker's state is
rebuilt (before, the notify agent could plan a re-read offer against the empty state of a
just-started worker, find no helper and fail the offer as "no usable channel": 3 of 6 runs).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka_lag import uncommitted

pytestmark = pytest.mark.integration

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
COMMUNITY = "stop-a"


def offers_to(receiver: PushReceiver, helper_id: str) -> list[str]:
    """Delivery ids of the offer pushes `helper_id`'s phone received (held ones included)."""
    ids = []
    for r in receiver.for_path("/phones"):
        data = r.json()["data"]
        if data.get("recipient") == helper_id and data.get("kind") == "offer":
            ids.append(str(r.webhook_id))
    return ids


async def uncommitted_events(stack: LocalStack) -> int:
    """Records of `events` after the worker group's committed offsets."""
    env = stack.env()
    return await uncommitted(stack, env["DISPATCH_APP_ID"], env["DISPATCH_EVENTS_TOPIC"])


async def test_a_worker_stopped_with_pushes_in_flight_exits_and_its_successor_sends_them(
    stack: LocalStack,
) -> None:
    async with PushReceiver() as phones:
        phones.hold("/phones")  # every push stays in flight: its record is never acknowledged
        endpoint = {"name": "phones", "kind": "webhook", "url": phones.url("/phones")}
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([{**endpoint, "secret": SECRET}])
        stack.extra_env["DISPATCH_STOP_DRAIN_SECONDS"] = "1"
        worker = stack.start_worker()
        stack.bot_communities.add(COMMUNITY)
        await stack.start_api()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
            helper = builders.helper("ann", COMMUNITY, ["driving"], channels=["phones"])
            r = await client.put("/v1/admin/helpers/ann", json=helper, headers=STAFF)
            assert r.status_code == 202
            r = await BotClient(client).post("/v1/requests", builders.request(COMMUNITY))
            assert r.status_code == 202
        await phones.wait_for(lambda: phones.in_flight("/phones") >= 1, timeout=60)
        held = offers_to(phones, "ann")
        assert held

        # SIGTERM; LocalStack.stop SIGKILLs after 30 s, which is what happened before.
        await asyncio.to_thread(worker.stop, 30.0)
        log = worker.log_tail(400)
        assert worker.popen.returncode == 0, f"killed, not stopped:\n{log}"
        assert "records still in flight" in log, log

        # The record with the held push is not committed: its partition's next owner reads it.
        assert await uncommitted_events(stack) >= 1
        # Nothing lost: the record was not committed, so the next start pushes it again.
        phones.let_go("/phones")
        successor = stack.start_worker()
        try:
            await phones.wait_for(lambda: len(offers_to(phones, "ann")) > len(held), timeout=60)
        except TimeoutError:
            pytest.fail(f"the offer was not pushed again:\n{successor.log_tail(200)}")
        assert set(offers_to(phones, "ann")) == set(held)  # the same delivery, sent again
