"""The lane against httpx.MockTransport, on a hand-moved monotonic clock:
- each kind has its own retry budget: a platform's 10-minute throttle expires offers but
  not whistles (and the referral rung, also a whistle) or assignments;
- a whistle or assignment lost for good is a critical log line and a metric;
- a private kind is checked at send time: a lane re-pointed at a group robot while an
  assignment waits for its retry fails it instead of posting the address to the group."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dispatcher.ops.metrics import REGISTRY
from dispatcher.push import (
    Deliverer,
    Delivery,
    EndpointConfig,
    EndpointRegistry,
    PushKind,
    PushMessage,
)

SECRET = "whsec_" + "A" * 43 + "="
ADDRESS = "莲花五村3号楼2单元501室 王阿姨 13812345678"
OWN_LINK = "https://help.example/l/o/~ONE-HELPERS-TOKEN"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self, answer: Callable[[httpx.Request, int], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer
        self.delivered: list[str] = []
        self.failed: dict[str, str] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request, len(self.requests))

    async def on_delivered(self, d: Delivery, latency: float) -> None:
        self.delivered.append(d.delivery_id)

    async def on_failed(self, d: Delivery, reason: str) -> None:
        self.failed[d.delivery_id] = reason


def delivery(
    i: str, endpoint: str, kind: PushKind, text: str = "【转介】请立即拨打120"
) -> Delivery:
    return Delivery(
        delivery_id=i,
        endpoint=endpoint,
        kind=kind,
        message=PushMessage(title="t", text=text),
        data={"request_id": "req-1"},
    )


def relay(name: str = "relay", **extra: object) -> EndpointConfig:
    return EndpointConfig.model_validate(
        {"name": name, "kind": "webhook", "url": "http://relay.test/push", "secret": SECRET} | extra
    )


def dingtalk(name: str = "duty") -> EndpointConfig:
    return EndpointConfig(
        name=name, kind="dingtalk", url="http://dingtalk.test/robot/send", token="tok"
    )


def wecom(name: str) -> EndpointConfig:
    return EndpointConfig(
        name=name, kind="wecom", url="http://wecom.test/cgi-bin/webhook/send", token="KEY"
    )


@pytest.fixture
async def running() -> AsyncIterator[list[Deliverer]]:
    made: list[Deliverer] = []
    yield made
    for d in made:
        await d.aclose()


def start(
    made: list[Deliverer], registry: EndpointRegistry, rec: Recorder, clock: Clock
) -> Deliverer:
    d = Deliverer(
        registry,
        client=httpx.AsyncClient(transport=httpx.MockTransport(rec)),
        on_delivered=rec.on_delivered,
        on_permanent_failure=rec.on_failed,
        clock=clock,
        rand=lambda: 0.1,  # the default budgets, with short jittered delays
    )
    made.append(d)
    return d


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.005)


def throttled_once(throttle: httpx.Response) -> Callable[[httpx.Request, int], httpx.Response]:
    def answer(request: httpx.Request, n: int) -> httpx.Response:
        return throttle if n == 1 else httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    return answer


DINGTALK_BLOCKED = httpx.Response(200, json={"errcode": 130101, "errmsg": "send too fast"})
RELAY_BUSY = httpx.Response(429, headers={"Retry-After": "600"})


@pytest.mark.parametrize(
    ("endpoint", "throttle", "kind"),
    [
        (dingtalk(), DINGTALK_BLOCKED, PushKind.WHISTLE),  # a whistle, or the 120 rung
        (relay(), RELAY_BUSY, PushKind.ASSIGNMENT),
    ],
)
async def test_a_ten_minute_throttle_expires_offers_but_not_what_must_arrive(
    running: list[Deliverer], endpoint: EndpointConfig, throttle: httpx.Response, kind: PushKind
) -> None:
    clock = Clock()
    rec = Recorder(throttled_once(throttle))
    d = start(running, EndpointRegistry([endpoint]), rec, clock)
    name = endpoint.name
    await d.submit(delivery("first", name, kind))
    # Throttled: the lane pauses for 600 s and the delivery waits for its retry.
    await until(lambda: d.stats()[0].waiting_retry == 1 or bool(rec.failed))
    assert rec.failed == {}
    await d.submit(delivery("queued", name, kind))
    await d.submit(delivery("offer", name, PushKind.OFFER))
    await until(lambda: "offer" in rec.failed)  # useless after the pause: dropped now
    assert "rate-limited" in rec.failed["offer"]
    assert list(rec.failed) == ["offer"] and len(rec.requests) == 1

    clock.now += 601  # the platform's block is over
    await d.submit(delivery("later", name, kind))  # wakes the lane
    assert await d.drain(5)
    assert sorted(rec.delivered) == ["first", "later", "queued"]
    assert list(rec.failed) == ["offer"]


async def test_a_whistle_batched_with_an_offer_keeps_its_own_budget(
    running: list[Deliverer],
) -> None:
    clock = Clock()
    rec = Recorder(throttled_once(RELAY_BUSY))
    d = start(running, EndpointRegistry([relay(batch_max=10)]), rec, clock)
    await d.submit(delivery("offer", "relay", PushKind.OFFER))
    await d.submit(delivery("whistle", "relay", PushKind.WHISTLE))
    await until(lambda: "offer" in rec.failed)
    clock.now += 601
    await d.submit(delivery("wake", "relay", PushKind.WHISTLE))
    assert await d.drain(5)
    assert sorted(rec.delivered) == ["wake", "whistle"]
    assert list(rec.failed) == ["offer"]


def lost(kind: str) -> float:
    return REGISTRY.get_sample_value("dispatch_push_lost_total", {"kind": kind}) or 0.0


async def test_a_lost_whistle_is_a_critical_log_and_a_metric(
    running: list[Deliverer], caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder(lambda request, n: httpx.Response(400))  # refused for good
    d = start(running, EndpointRegistry([relay()]), rec, Clock())
    before_whistle, before_offer = lost("whistle"), lost("offer")
    with caplog.at_level(logging.WARNING, logger="dispatcher.push"):
        await d.submit(delivery("w", "relay", PushKind.WHISTLE))
        await d.submit(delivery("o", "relay", PushKind.OFFER))
        assert await d.drain(5)
    assert set(rec.failed) == {"w", "o"}
    assert lost("whistle") == before_whistle + 1
    assert lost("offer") == before_offer  # an offer's loss is reported to the core instead
    [critical] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "whistle" in critical.getMessage() and "req-1" in critical.getMessage()
    assert "120" not in critical.getMessage()  # ids and reason only, never the text


async def test_a_lane_re_pointed_at_a_group_robot_fails_a_waiting_assignment(
    running: list[Deliverer],
) -> None:
    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if request.url.host == "relay.test":
            return httpx.Response(503)  # the relay is briefly down: the assignment retries
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    clock = Clock()
    rec = Recorder(answer)
    registry = EndpointRegistry([relay("default")])
    d = start(running, registry, rec, clock)
    await d.submit(delivery("assign", "default", PushKind.ASSIGNMENT, ADDRESS))
    # An offer planned for the helper's private channel: its own accept/decline links.
    own = delivery("own-offer", "default", PushKind.OFFER, "有邻居需要帮忙\n能来：" + OWN_LINK)
    await d.submit(own.model_copy(update={"data": own.data | {"accept_url": OWN_LINK}}))
    await until(lambda: d.stats()[0].waiting_retry == 2 or bool(rec.failed))
    registry.replace([wecom("default")])  # live configuration: now the community's group
    clock.now += 60  # the retries are due
    # The next delivery on the lane (any kind) makes it take the change; an offer in the
    # group's form (the answer page, no per-helper link) goes.
    await d.submit(delivery("offer", "default", PushKind.OFFER, "有邻居需要帮忙"))
    assert await d.drain(5)
    group_posts = [r.content.decode() for r in rec.requests if r.url.host == "wecom.test"]
    assert group_posts and not any("13812345678" in p or "501室" in p for p in group_posts)
    assert not any("/l/o/" in p for p in group_posts)
    assert rec.failed == {
        "assign": "assignment is private: not for a group robot",
        "own-offer": "offer holds the helper's own links (private): not for a group robot",
    }
    assert rec.delivered == ["offer"]
