"""The Deliverer against a real local HTTP receiver (dispatcher/testing/push_receiver.py).

No assertion on time: a hanging endpoint is held by the receiver (`hold`) while the others'
deliveries are shown to arrive, and promptness is shown by the number of attempts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from dispatcher.push import (
    Deliverer,
    Delivery,
    EndpointConfig,
    EndpointRegistry,
    EngineConfig,
    PushKind,
    PushMessage,
    RetryPolicy,
    SubmitOutcome,
)
from dispatcher.testing.push_receiver import (
    PushReceiver,
    platform_error,
    rate_limited,
    server_error,
)

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"integration-test-signing-key!").decode()
POLICY = RetryPolicy(base_delay=0.05, max_delay=0.3, max_attempts=5, max_total_time=20.0)


class Outcomes:
    def __init__(self) -> None:
        self.delivered: dict[str, float] = {}  # id -> monotonic time of the callback
        self.failed: dict[str, tuple[str, float]] = {}

    async def on_delivered(self, d: Delivery, latency: float) -> None:
        assert d.delivery_id not in self.delivered, "on_delivered twice"
        self.delivered[d.delivery_id] = time.monotonic()

    async def on_failed(self, d: Delivery, reason: str) -> None:
        self.failed[d.delivery_id] = (reason, time.monotonic())

    def deliverer(self, registry: EndpointRegistry, policy: RetryPolicy = POLICY) -> Deliverer:
        return Deliverer(
            registry,
            on_delivered=self.on_delivered,
            on_permanent_failure=self.on_failed,
            config=EngineConfig(retry=policy),
        )


@pytest.fixture
async def receiver() -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as server:
        yield server


def webhook(name: str, receiver: PushReceiver, **extra: object) -> EndpointConfig:
    fields = {"name": name, "kind": "webhook", "url": receiver.url(f"/{name}"), "secret": SECRET}
    return EndpointConfig.model_validate({**fields, **extra})


def offer(i: int, endpoint: str) -> Delivery:
    return Delivery(
        delivery_id=f"{endpoint}-{i}",
        endpoint=endpoint,
        kind=PushKind.OFFER,
        message=PushMessage(title="紧急：送医", text=f"【紧急】3号楼 送医 #{i}"),
    )


def signature_ok(headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(headers["webhook-signature"], expected)


async def test_each_delivery_arrives_exactly_once_despite_500s_and_429s(
    receiver: PushReceiver,
) -> None:
    in_a_second = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    receiver.script("/a", server_error(), rate_limited("1"), server_error(502), server_error())
    receiver.script("/b", rate_limited(in_a_second), server_error(503), server_error())
    registry = EndpointRegistry([webhook("a", receiver), webhook("b", receiver)])
    outcomes = Outcomes()
    async with outcomes.deliverer(registry) as deliverer:
        ids = set()
        for i in range(20):
            for endpoint in ("a", "b"):
                d = offer(i, endpoint)
                ids.add(d.delivery_id)
                assert await deliverer.submit(d) is SubmitOutcome.ACCEPTED
                # A consumer re-delivering its input must not cause a second send.
                assert await deliverer.submit(d) is SubmitOutcome.DUPLICATE
        assert await deliverer.drain(15), deliverer.stats()
    assert not outcomes.failed
    assert set(outcomes.delivered) == ids
    assert receiver.unique_ids() == ids
    assert receiver.duplicates == 0
    assert len(receiver.received) == len(ids) + 7  # every injected failure was retried
    assert all(signature_ok(r.headers, r.body) for r in receiver.received)


async def test_a_hanging_endpoint_does_not_delay_another(receiver: PushReceiver) -> None:
    receiver.hold("/slow")  # its calls hang, unanswered, until let go
    registry = EndpointRegistry(
        [webhook("slow", receiver, timeout_seconds=60), webhook("fast", receiver)]
    )
    async with Deliverer(registry, config=EngineConfig(retry=POLICY)) as deliverer:
        for i in range(8):  # more than the slow endpoint's concurrency: it queues
            await deliverer.submit(offer(i, "slow"))
        await receiver.wait_for(lambda: receiver.in_flight("/slow") >= 1, timeout=60)
        for i in range(8):
            await deliverer.submit(offer(i, "fast"))
        fast = {f"fast-{i}" for i in range(8)}
        await receiver.wait_for(lambda: fast <= set(receiver.accepted), timeout=60)
        # Every fast delivery arrived while the slow endpoint's calls were still hanging.
        assert receiver.in_flight("/slow") >= 1
        assert not [i for i in receiver.accepted if i.startswith("slow")]
        receiver.let_go("/slow")
        assert await deliverer.drain(60), deliverer.stats()
    assert set(receiver.accepted) == fast | {f"slow-{i}" for i in range(8)}
    assert receiver.duplicates == 0


async def test_permanent_failures_are_reported_promptly(receiver: PushReceiver) -> None:
    receiver.set_default("/gone", server_error(404))
    receiver.set_default("/dead", server_error(500))
    receiver.set_default("/cgi-bin/webhook/send", platform_error(93000, message="invalid key"))
    wecom = EndpointConfig.model_validate(
        {
            "name": "grid",
            "kind": "wecom",
            "url": receiver.url("/cgi-bin/webhook/send"),
            "token": "bad-key",
            "batch_window_seconds": 0,
        }
    )
    registry = EndpointRegistry([webhook("gone", receiver), webhook("dead", receiver), wecom])
    policy = RetryPolicy(base_delay=0.05, max_delay=0.2, max_attempts=3, max_total_time=20)
    outcomes = Outcomes()
    async with outcomes.deliverer(registry, policy) as deliverer:
        for endpoint in ("gone", "dead", "grid"):
            await deliverer.submit(offer(1, endpoint))
        assert await deliverer.drain(10)
    assert not outcomes.delivered
    assert set(outcomes.failed) == {"gone-1", "dead-1", "grid-1"}
    assert outcomes.failed["gone-1"][0] == "HTTP 404"
    assert outcomes.failed["dead-1"][0] == "gave up after 3 attempts: HTTP 500"
    assert "93000" in outcomes.failed["grid-1"][0]
    # Promptly: a permanent refusal is not retried, a failing endpoint gets max_attempts
    # tries and no more (the 20 s time budget plays no part).
    assert len(receiver.for_path("/gone")) == 1 and len(receiver.for_path("/dead")) == 3
    assert len(receiver.for_path("/cgi-bin/webhook/send")) == 1


async def test_dingtalk_busy_then_ok_with_signed_query(receiver: PushReceiver) -> None:
    receiver.script("/robot/send", platform_error(-1, message="system busy"))
    ding = EndpointConfig.model_validate(
        {
            "name": "ding",
            "kind": "dingtalk",
            "url": receiver.url("/robot/send"),
            "token": "tok",
            "secret": "SECxyz",
        }
    )
    outcomes = Outcomes()
    async with outcomes.deliverer(EndpointRegistry([ding])) as deliverer:
        await deliverer.submit(offer(1, "ding"))
        assert await deliverer.drain(5)
    assert set(outcomes.delivered) == {"ding-1"}
    first, second = receiver.for_path("/robot/send")
    for request in (first, second):
        timestamp = request.query["timestamp"][0]
        digest = hmac.new(b"SECxyz", f"{timestamp}\nSECxyz".encode(), hashlib.sha256).digest()
        assert request.query["sign"] == [base64.b64encode(digest).decode()]
        assert request.query["access_token"] == ["tok"]


async def test_receiver_counts_duplicates(receiver: PushReceiver) -> None:
    # The receiver itself must be able to see a double send, or the tests above prove nothing.
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(2):
            await client.post(receiver.url("/x"), content=b"{}", headers={"webhook-id": "same"})
    assert receiver.duplicates == 1 and receiver.unique_ids() == {"same"}


async def test_a_batching_webhook_delivers_every_entry_once_signed_despite_failures(
    receiver: PushReceiver,
) -> None:
    """batch_max > 1: deliveries share POSTs, a failed POST is retried whole under the same
    webhook-id, and every delivery arrives exactly once, signed, as its own entry."""
    receiver.script("/a", server_error(), rate_limited("1"), server_error(502))
    endpoint = webhook("a", receiver, batch_max=8, batch_window_seconds=0.02, concurrency=2)
    outcomes = Outcomes()
    async with outcomes.deliverer(EndpointRegistry([endpoint])) as deliverer:
        ids = {f"a-{i}" for i in range(40)}
        for i in range(40):
            assert await deliverer.submit(offer(i, "a")) is SubmitOutcome.ACCEPTED
        assert await deliverer.drain(15), deliverer.stats()
    assert not outcomes.failed
    assert set(outcomes.delivered) == ids
    assert all(signature_ok(r.headers, r.body) for r in receiver.received)
    ok = [r for r in receiver.received if 200 <= r.status < 300]
    assert receiver.duplicates == 0
    entries = [
        e["delivery_id"]
        for r in ok
        for e in (r.json()["data"]["deliveries"] if r.json()["type"] == "push.batch" else [])
    ]
    singles = [r.webhook_id for r in ok if r.json()["type"] == "push.offer"]
    assert sorted(entries + singles) == sorted(ids)  # each exactly once
    assert len(ok) < len(ids) / 2  # and mostly batched
