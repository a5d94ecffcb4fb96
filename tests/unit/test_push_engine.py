"""The Deliverer against httpx.MockTransport: retries, dedupe, batching, limits, breaker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from dispatcher.push import (
    Deliverer,
    Delivery,
    EndpointConfig,
    EndpointRegistry,
    EngineConfig,
    Mention,
    PushKind,
    PushMessage,
    RetryPolicy,
    SubmitOutcome,
)

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=4, max_total_time=5.0)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Outcomes:
    delivered: list[tuple[str, float]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    async def on_delivered(self, d: Delivery, latency: float) -> None:
        self.delivered.append((d.delivery_id, latency))

    async def on_failed(self, d: Delivery, reason: str) -> None:
        self.failed.append((d.delivery_id, reason))


@dataclass
class Sent:
    at: float
    request: httpx.Request


class Harness:
    def __init__(self, handler: Handler) -> None:
        self.sent: list[Sent] = []
        self._handler = handler

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(Sent(time.monotonic(), request))
        return await self._handler(request)

    def to(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.request.url.path == path]


def endpoints(**overrides: dict[str, object]) -> EndpointRegistry:
    base: dict[str, dict[str, object]] = {
        "relay": {"kind": "webhook", "url": "http://relay.test/push", "secret": "whsec_cw=="},
        "relay2": {"kind": "webhook", "url": "http://relay.test/push2", "secret": "whsec_cw=="},
        "grid": {
            "kind": "wecom",
            "url": "http://wecom.test/cgi-bin/webhook/send",
            "token": "k",
            "batch_window_seconds": 0.1,
        },
    }
    for name, extra in overrides.items():
        base[name] = {**base[name], **extra}
    return EndpointRegistry(
        EndpointConfig.model_validate({"name": name, **fields}) for name, fields in base.items()
    )


def delivery(i: int | str, endpoint: str = "relay", **changes: object) -> Delivery:
    fields: dict[str, object] = {
        "delivery_id": f"d-{i}",
        "endpoint": endpoint,
        "kind": PushKind.OFFER,
        "message": PushMessage(title="t", text="有邻居需要帮忙"),
    }
    fields.update(changes)
    return Delivery.model_validate(fields)


def ok_after(failures: int, failure: httpx.Response) -> Handler:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        if count <= failures:
            return failure
        return httpx.Response(200, json={"errcode": 0})

    return handler


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


def make(
    harness: Harness,
    outcomes: Outcomes,
    registry: EndpointRegistry | None = None,
    clock: Callable[[], float] = time.monotonic,
    **config: object,
) -> Deliverer:
    client = httpx.AsyncClient(transport=httpx.MockTransport(harness))
    engine_config = EngineConfig(**{"retry": FAST, **config})  # type: ignore[arg-type]
    deliverer = Deliverer(
        registry or endpoints(),
        on_delivered=outcomes.on_delivered,
        on_permanent_failure=outcomes.on_failed,
        client=client,
        config=engine_config,
        clock=clock,
    )
    deliverer._test_client = client  # type: ignore[attr-defined]
    return deliverer


@pytest.fixture
async def closing() -> AsyncIterator[list[Deliverer]]:
    made: list[Deliverer] = []
    yield made
    for deliverer in made:
        await deliverer.aclose()
        await deliverer._test_client.aclose()  # type: ignore[attr-defined]


async def test_retries_500_until_delivered_once(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(2, httpx.Response(500)))
    closing.append(d := make(harness, outcomes))
    assert await d.submit(delivery(1)) is SubmitOutcome.ACCEPTED
    assert await d.drain(5)
    assert len(harness.sent) == 3
    assert {s.request.headers["webhook-id"] for s in harness.sent} == {"d-1"}
    assert [i for i, _ in outcomes.delivered] == ["d-1"] and not outcomes.failed
    assert outcomes.delivered[0][1] > 0  # latency measured from submit


async def test_dedupe_in_flight_and_after_delivery(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(0, httpx.Response(200)))
    closing.append(d := make(harness, outcomes))
    first, twin = await asyncio.gather(d.submit(delivery(1)), d.submit(delivery(1)))
    assert sorted([first, twin]) == sorted([SubmitOutcome.ACCEPTED, SubmitOutcome.DUPLICATE])
    assert await d.drain(5)
    assert await d.submit(delivery(1)) is SubmitOutcome.DUPLICATE
    assert await d.drain(5)
    assert len(harness.sent) == 1 and len(outcomes.delivered) == 1


async def test_permanent_failure_is_not_retried(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(99, httpx.Response(400)))
    closing.append(d := make(harness, outcomes))
    await d.submit(delivery(1))
    assert await d.drain(5)
    assert len(harness.sent) == 1
    assert outcomes.failed == [("d-1", "HTTP 400")] and not outcomes.delivered


async def test_gives_up_after_max_attempts(outcomes: Outcomes, closing: list[Deliverer]) -> None:
    harness = Harness(ok_after(99, httpx.Response(503)))
    closing.append(d := make(harness, outcomes))
    await d.submit(delivery(1))
    assert await d.drain(5)
    assert len(harness.sent) == FAST.max_attempts
    [(delivery_id, reason)] = outcomes.failed
    assert delivery_id == "d-1" and reason.startswith("gave up after 4 attempts: HTTP 503")


async def test_honours_retry_after(outcomes: Outcomes, closing: list[Deliverer]) -> None:
    harness = Harness(ok_after(1, httpx.Response(429, headers={"Retry-After": "1"})))
    closing.append(d := make(harness, outcomes))
    await d.submit(delivery(1))
    assert await d.drain(5)
    first, second = harness.sent
    assert second.at - first.at >= 0.95  # backoff alone would be ~0.01 s


async def test_retry_after_beyond_the_deadline_fails_at_once(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    # DingTalk throttles for 10 minutes: an offer cannot wait that long; report it now.
    answer = httpx.Response(200, json={"errcode": 130101, "errmsg": "send too fast"})
    registry = endpoints()
    registry.add(
        EndpointConfig.model_validate(
            {"name": "ding", "kind": "dingtalk", "url": "http://ding.test/robot/send", "token": "t"}
        )
    )
    harness = Harness(ok_after(99, answer))
    closing.append(d := make(harness, outcomes, registry))
    started = time.monotonic()
    await d.submit(delivery(1, "ding"))
    assert await d.drain(3)
    [(_, reason)] = outcomes.failed
    assert "130101" in reason
    # The robot is throttled now: the next offer is not sent, and fails at once too.
    await d.submit(delivery(2, "ding"))
    assert await d.drain(3)
    assert time.monotonic() - started < 2
    assert len(harness.sent) == 1
    assert outcomes.failed[1] == ("d-2", "expired after 0 attempts: endpoint rate-limited us")


async def test_unknown_endpoint_and_private_kind_to_group_are_rejected(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(0, httpx.Response(200)))
    closing.append(d := make(harness, outcomes))
    assert await d.submit(delivery(1, "no-such")) is SubmitOutcome.REJECTED
    assignment = delivery(2, "grid", kind=PushKind.ASSIGNMENT)
    assert await d.submit(assignment) is SubmitOutcome.REJECTED
    assert [i for i, _ in outcomes.failed] == ["d-1", "d-2"]
    assert "unknown endpoint" in outcomes.failed[0][1]
    assert not harness.sent


async def test_offers_to_one_group_are_merged_into_one_mention(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(0, httpx.Response(200, json={"errcode": 0})))
    closing.append(d := make(harness, outcomes))
    for i, mobile in enumerate(["13800000001", "13800000002", "13800000003"]):
        await d.submit(
            delivery(i, "grid", mentions=(Mention(mobile=mobile),), batch_key="request-9")
        )
    await d.submit(
        delivery("other", "grid", mentions=(Mention(mobile="13900000000"),), batch_key="request-10")
    )
    assert await d.drain(5)
    bodies = [s.request.content.decode() for s in harness.to("/cgi-bin/webhook/send")]
    assert len(bodies) == 2
    assert all(m in bodies[0] for m in ["13800000001", "13800000002", "13800000003"])
    assert bodies[0].count("有邻居需要帮忙") == 1  # the same text once
    assert "13900000000" in bodies[1]
    assert sorted(i for i, _ in outcomes.delivered) == ["d-0", "d-1", "d-2", "d-other"]


async def test_token_bucket_spaces_sends(outcomes: Outcomes, closing: list[Deliverer]) -> None:
    registry = endpoints(relay={"rate_per_minute": 60, "burst": 2})
    harness = Harness(ok_after(0, httpx.Response(200)))
    closing.append(d := make(harness, outcomes, registry))
    for i in range(3):
        await d.submit(delivery(i))
    assert await d.drain(5)
    times = sorted(s.at for s in harness.sent)
    # The engine obeys the bucket: the third send waits for a token (a lower bound, which
    # load cannot break). That the first two go at once is the bucket's own property, shown
    # with `now` passed in by test_push_policy.test_bucket_burst_then_refill_rate; asserting
    # it here as a wall-clock upper bound failed by chance on a loaded machine.
    assert times[2] - times[0] >= 0.9


async def test_breaker_opens_and_probes_after_cool_down(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(2, httpx.Response(500)))
    closing.append(d := make(harness, outcomes, breaker_failures=2, breaker_cool_down=0.6))
    await d.submit(delivery(1))
    await asyncio.sleep(0.3)
    assert [s.breaker for s in d.stats()] == ["open"]
    assert await d.drain(5)
    _first, second, probe = harness.sent
    assert probe.at - second.at >= 0.55  # nothing went out while open
    assert [i for i, _ in outcomes.delivered] == ["d-1"]
    assert [s.breaker for s in d.stats()] == ["closed"]


async def test_open_breaker_on_one_endpoint_leaves_others_alone(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500 if request.url.path == "/push" else 200)

    harness = Harness(handler)
    closing.append(d := make(harness, outcomes, breaker_failures=1, breaker_cool_down=10))
    await d.submit(delivery("dead", "relay"))
    await asyncio.sleep(0.1)
    await d.submit(delivery("alive", "relay2"))
    for _ in range(100):
        if outcomes.delivered:
            break
        await asyncio.sleep(0.01)
    assert [i for i, _ in outcomes.delivered] == ["d-alive"]


async def test_a_hanging_call_is_cut_by_the_timeout(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    registry = endpoints(relay={"timeout_seconds": 0.1})
    policy = RetryPolicy(base_delay=0.01, max_delay=0.01, max_attempts=2, max_total_time=5)
    closing.append(d := make(Harness(hang), outcomes, registry, retry=policy, call_grace=0.1))
    await d.submit(delivery(1))
    assert await d.drain(3)
    [(_, reason)] = outcomes.failed
    assert reason == "gave up after 2 attempts: timeout"


async def test_callback_errors_do_not_stop_the_engine(closing: list[Deliverer]) -> None:
    seen: list[str] = []

    async def explode(d: Delivery, latency: float) -> None:
        seen.append(d.delivery_id)
        raise RuntimeError("consumer bug")

    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    d = Deliverer(endpoints(), on_delivered=explode, client=client, config=EngineConfig(retry=FAST))
    d._test_client = client  # type: ignore[attr-defined]
    closing.append(d)
    await d.submit(delivery(1))
    await d.submit(delivery(2))
    assert await d.drain(5)
    assert sorted(seen) == ["d-1", "d-2"]


def gated(gate: asyncio.Event) -> Handler:
    """200 for every request, but the first waits for `gate`: the lane's one slot stays
    busy while more deliveries queue up behind it."""
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
        return httpx.Response(200)

    return handler


async def test_a_batching_webhook_carries_the_queued_deliveries_in_one_post(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    gate = asyncio.Event()
    harness = Harness(gated(gate))
    registry = endpoints(relay={"batch_max": 4, "concurrency": 1, "batch_window_seconds": 0})
    closing.append(d := make(harness, outcomes, registry))
    await d.submit(delivery(0))
    while not harness.sent:  # no window: the first goes out alone, at once
        await asyncio.sleep(0.001)
    for i in range(1, 7):
        await d.submit(delivery(i, recipient=f"h-{i}"))
    gate.set()
    assert await d.drain(5)
    posts = [s.request for s in harness.to("/push")]
    bodies = [json.loads(p.content) for p in posts]
    assert [b["type"] for b in bodies] == ["push.offer", "push.batch", "push.batch"]
    batched = [[e["delivery_id"] for e in b["data"]["deliveries"]] for b in bodies[1:]]
    assert batched == [["d-1", "d-2", "d-3", "d-4"], ["d-5", "d-6"]]  # in order, ≤ batch_max
    entry = bodies[1]["data"]["deliveries"][0]
    assert (entry["kind"], entry["recipient"], entry["text"]) == ("offer", "h-1", "有邻居需要帮忙")
    assert posts[1].headers["webhook-id"].startswith("batch-")
    assert sorted(i for i, _ in outcomes.delivered) == [f"d-{i}" for i in range(7)]


async def test_a_failed_batch_is_retried_whole_under_the_same_id(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(2, httpx.Response(503)))  # the lone first, then the batch, fail
    registry = endpoints(relay={"batch_max": 8, "concurrency": 1, "batch_window_seconds": 0})
    closing.append(d := make(harness, outcomes, registry))
    for i in range(4):
        await d.submit(delivery(i))
    assert await d.drain(5)
    ids = [s.request.headers["webhook-id"] for s in harness.to("/push")]
    # Every attempt of a batch names the same members, so it carries the same id.
    assert len(set(ids)) < len(ids)
    assert sorted(i for i, _ in outcomes.delivered) == [f"d-{i}" for i in range(4)]
    assert not outcomes.failed


async def test_the_window_gathers_a_wave_into_one_post(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness = Harness(ok_after(0, httpx.Response(200)))
    registry = endpoints(relay={"batch_max": 10, "batch_window_seconds": 0.05})
    closing.append(d := make(harness, outcomes, registry))
    for i in range(5):  # one wave: submitted together, every slot free
        await d.submit(delivery(i, batch_key="request-1:0"))
    assert await d.drain(5)
    posts = harness.to("/push")
    assert len(posts) == 1
    assert len(json.loads(posts[0].request.content)["data"]["deliveries"]) == 5


class Frozen:
    """A monotonic clock that moves only when told: a lane's window is then a state, not a
    wait (a lane naps in real time only until something is queued)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def slow_relay(
    outcomes: Outcomes, closing: list[Deliverer], batch_max: int, clock: Frozen
) -> tuple[Harness, Deliverer]:
    """A relay batching up to `batch_max` with a 10 s window, on a frozen clock."""
    harness = Harness(ok_after(0, httpx.Response(200)))
    registry = endpoints(relay={"batch_max": batch_max, "batch_window_seconds": 10})
    closing.append(d := make(harness, outcomes, registry, clock=clock))
    return harness, d


def entries(sent: Sent) -> list[str]:
    body = json.loads(sent.request.content)
    if body["type"] != "push.batch":
        return [sent.request.headers["webhook-id"]]
    return [e["delivery_id"] for e in body["data"]["deliveries"]]


async def test_a_relays_first_batch_after_a_quiet_window_goes_at_once(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    # A window far longer than the drain allows: waiting it out (the rule before: a window
    # from the first delivery's queueing) could not drain.
    harness, d = slow_relay(outcomes, closing, 10, Frozen())
    for i in range(5):  # one wave, queued together
        await d.submit(delivery(i))
    assert await d.drain(5)
    assert [entries(s) for s in harness.to("/push")] == [[f"d-{i}" for i in range(5)]]


async def test_a_relays_next_batch_waits_a_window_from_the_last_and_takes_what_queued(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    clock = Frozen()
    harness, d = slow_relay(outcomes, closing, 10, clock)
    await d.submit(delivery(0))
    assert await d.drain(5)  # the first: at once
    clock.t += 9.9
    for i in (1, 2):  # within the window of the first POST: they wait
        await d.submit(delivery(i))
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert len(harness.to("/push")) == 1 and d.pending == 2
    clock.t += 0.1  # the window is over; the next delivery wakes the lane
    await d.submit(delivery(3))
    assert await d.drain(5)
    assert [entries(s) for s in harness.to("/push")] == [["d-0"], ["d-1", "d-2", "d-3"]]


async def test_a_relays_full_batches_do_not_wait_for_the_window(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    harness, d = slow_relay(outcomes, closing, 2, Frozen())
    await d.submit(delivery(0))
    assert await d.drain(5)
    for i in range(1, 6):  # within the window: two full batches go at once, the rest waits
        await d.submit(delivery(i))
    async with asyncio.timeout(5):  # the clock is frozen: a batch that waited never would go
        while len(harness.to("/push")) < 3 or d.pending > 1:
            await asyncio.sleep(0.001)
    assert [entries(s) for s in harness.to("/push")] == [["d-0"], ["d-1", "d-2"], ["d-3", "d-4"]]


async def test_without_batch_max_every_delivery_is_its_own_post(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    gate = asyncio.Event()
    harness = Harness(gated(gate))
    closing.append(d := make(harness, outcomes, endpoints(relay={"concurrency": 1})))
    for i in range(4):
        await d.submit(delivery(i))
    gate.set()
    assert await d.drain(5)
    posts = harness.to("/push")
    assert [p.request.headers["webhook-id"] for p in posts] == [f"d-{i}" for i in range(4)]


def test_batch_max_is_for_webhooks_only() -> None:
    with pytest.raises(ValueError, match="batch_max"):
        endpoints(grid={"batch_max": 5})


async def test_a_changed_concurrency_takes_effect_in_a_running_lane(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    """The live configuration lowers or raises an endpoint's cap: the lane follows it from
    the next delivery, sends in flight included, with no new Deliverer."""
    gate = asyncio.Event()
    in_flight = 0
    peak = 0

    async def held(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await gate.wait()
        in_flight -= 1
        return httpx.Response(200)

    registry = endpoints(relay={"concurrency": 1, "batch_max": 1})
    closing.append(d := make(Harness(held), outcomes, registry))

    async def wave(first: int, limit: int) -> None:
        nonlocal peak
        gate.clear()
        peak = 0
        for i in range(first, first + 4):
            await d.submit(delivery(i))
        for _ in range(200):  # until the lane has let out all it may
            await asyncio.sleep(0.01)
            (lane,) = d.stats()
            if lane.in_flight == limit and lane.queued == 4 - limit:
                break
        (lane,) = d.stats()
        assert (lane.in_flight, lane.queued, lane.concurrency) == (limit, 4 - limit, limit)
        gate.set()
        assert await d.drain(timeout=5)
        assert peak == limit

    await wave(0, 1)
    registry.replace(
        [
            *(e for e in registry if e.name != "relay"),
            registry.get("relay").model_copy(update={"concurrency": 3}),
        ]
    )
    await wave(10, 3)
    assert len(outcomes.delivered) == 8


async def test_withdrawn_deliveries_are_not_sent_those_in_flight_go_on(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    """A partition moved to another worker (streams/notify.py `withdraw_moved`): what is
    queued or waiting for a retry is taken out without a callback, and can be submitted
    again later; the send in flight goes on. The lane waiting for a slot with its queue
    emptied under it neither crashes nor leaks the slot."""
    gate = asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200)

    registry = endpoints(relay={"concurrency": 1, "batch_max": 1})
    closing.append(d := make(Harness(held), outcomes, registry))
    for i in range(4):
        await d.submit(delivery(i))
    for _ in range(200):  # d-0 in flight, d-1..d-3 queued (the lane waits for the slot)
        await asyncio.sleep(0.01)
        (lane,) = d.stats()
        if (lane.in_flight, lane.queued) == (1, 3):
            break
    assert d.withdraw({"d-0", "d-1", "d-2", "d-3", "d-unknown"}) == {"d-1", "d-2", "d-3"}
    (lane,) = d.stats()
    assert (lane.in_flight, lane.queued, d.pending) == (1, 0, 1)
    gate.set()
    assert await d.drain(timeout=5)
    assert [i for i, _ in outcomes.delivered] == ["d-0"] and not outcomes.failed
    # Not forgotten as delivered: the partition may come back, and its record with it.
    assert await d.submit(delivery(2)) is SubmitOutcome.ACCEPTED
    assert await d.drain(timeout=5)
    assert [i for i, _ in outcomes.delivered] == ["d-0", "d-2"]
    # The lane still serves (its slot was given back).
    assert await d.submit(delivery(9)) is SubmitOutcome.ACCEPTED
    assert await d.drain(timeout=5) and outcomes.delivered[-1][0] == "d-9"


async def test_a_delivery_waiting_for_its_retry_is_withdrawn(
    outcomes: Outcomes, closing: list[Deliverer]
) -> None:
    slow = RetryPolicy(base_delay=30, max_delay=30, max_attempts=4, max_total_time=120)
    harness = Harness(ok_after(1, httpx.Response(500)))
    closing.append(d := make(harness, outcomes, retry=slow))
    await d.submit(delivery(1))
    for _ in range(200):
        await asyncio.sleep(0.01)
        (lane,) = d.stats()
        if lane.waiting_retry == 1:
            break
    assert d.withdraw({"d-1"}) == {"d-1"}
    (lane,) = d.stats()
    assert (lane.waiting_retry, d.pending) == (0, 0)
    assert await d.drain(timeout=1)
    assert len(harness.sent) == 1 and not outcomes.delivered and not outcomes.failed
