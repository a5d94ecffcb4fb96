"""A rolling upgrade from a release before the event batches and the waves' single events:
with DISPATCH_EVENT_BATCHES and DISPATCH_WAVE_EVENTS off, the worker writes one record per
event and one event per offer, which a reader of that older release (one
`Event.model_validate_json` per record, the single kinds) takes whole; offers still reach
the phones."""

from __future__ import annotations

import json

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from schemas.events import Event
from tests.integration.test_event_batches import SECRET, drivers_and_a_request
from tests.support.kafka import read_topic

COMMUNITY = "unbatched"
HELPERS = [f"u{i}" for i in range(4)]


async def test_with_batches_off_every_record_is_one_event_an_older_reader_decodes(
    stack: LocalStack,
) -> None:
    async with PushReceiver() as phones:
        endpoint = {"name": "phones", "kind": "webhook", "url": phones.url("/phones")}
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([{**endpoint, "secret": SECRET}])
        stack.extra_env["DISPATCH_EVENT_BATCHES"] = "false"
        stack.extra_env["DISPATCH_WAVE_EVENTS"] = "false"
        stack.start_worker()
        stack.bot_communities.add(COMMUNITY)
        await stack.start_api()
        request_id = await drivers_and_a_request(stack, COMMUNITY, HELPERS)

        def offered() -> int:
            return sum(
                1 for p in phones.for_path("/phones") if p.json()["data"].get("kind") == "offer"
            )

        await phones.wait_for(lambda: offered() >= 2, timeout=60)
    records = await read_topic(stack.kafka_bootstrap, stack.topic("events"), until=10**6, timeout=5)
    events = [Event.model_validate_json(r.value) for r in records]  # the older readers' decode
    opened = [e for e in events if e.request_id == request_id]
    kinds = [e.body.type for e in opened]
    assert kinds[0] == "request_opened" and kinds.count("offer_sent") >= 2
    assert not {"offers_sent", "offers_stood_down"} & set(kinds)  # kinds it would not know
    # The request's first decision went out as several records, one event each.
    assert len({e.caused_by for e in opened[:3]}) == 1
