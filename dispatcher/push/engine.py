"""The delivery engine: one lane (queue + worker) per endpoint, retries, limits, breaker.

Each endpoint has its own lane (`push/lane.py`), its own concurrency cap, token bucket and
circuit breaker, so a slow or dead endpoint only ever delays its own deliveries. Policy
objects (RetryPolicy, TokenBucket, CircuitBreaker) are pure and take `now` from the injected
clock; this module only sequences them around the channels' I/O.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Callable
from types import TracebackType

import httpx
from prometheus_client import Counter

from dispatcher.ops.metrics import REGISTRY
from dispatcher.push.channels import WallClock, make_channel
from dispatcher.push.endpoints import EndpointConfig, EndpointRegistry, UnknownEndpointError
from dispatcher.push.http import make_client
from dispatcher.push.lane import (
    ChannelFactory,
    Clock,
    EngineConfig,
    LaneStats,
    OnDelivered,
    OnPermanentFailure,
    OnWithdrawn,
    StillWanted,
    SubmitOutcome,
    _ignore_delivered,
    _ignore_failure,
    _ignore_withdrawn,
    _Job,
    _Lane,
    private_refusal,
)
from dispatcher.push.ledger import DeliveredLedger, InMemoryLedger
from dispatcher.push.model import Delivery, PushKind

log = logging.getLogger("dispatcher.push")

# Lost for good, these leave a person uncalled: a whistle or the referral rung (120/110/119
# advised, the duty officer not reached), or a helper on the way without the address. The
# notify agent reports a whistle or referral that reached none of its people to the core
# (`ReportStaffNotReached`), which records it for the dashboard.
MUST_ARRIVE: frozenset[PushKind] = frozenset({PushKind.WHISTLE, PushKind.ASSIGNMENT})
LOST = Counter(
    "dispatch_push_lost",
    "Whistles, referrals and assignments that failed for good, by push kind",
    ["kind"],
    registry=REGISTRY,
)
WITHDRAWN = Counter(
    "dispatch_push_withdrawn",
    "Deliveries dropped before an attempt as no longer wanted (their request ended, or the "
    "helper's assignment): not sent, not failed, by push kind",
    ["kind"],
    registry=REGISTRY,
)


class Deliverer:
    """Takes deliveries, sends each at most once successfully, reports the outcome.

    Use as `async with Deliverer(registry, on_delivered=..., on_permanent_failure=...)`,
    then `await deliverer.submit(delivery)` from the consumer. Callbacks are awaited on
    the engine's tasks: keep them short (e.g. produce a Kafka message).
    """

    def __init__(
        self,
        registry: EndpointRegistry,
        *,
        on_delivered: OnDelivered = _ignore_delivered,
        on_permanent_failure: OnPermanentFailure = _ignore_failure,
        client: httpx.AsyncClient | None = None,
        config: EngineConfig | None = None,
        ledger: DeliveredLedger | None = None,
        clock: Clock = time.monotonic,
        wall_clock: WallClock = time.time,
        rand: Callable[[], float] = random.random,
        channel_factory: ChannelFactory = make_channel,
        hold: Callable[[], bool] | None = None,
        still_wanted: StillWanted | None = None,
        on_withdrawn: OnWithdrawn = _ignore_withdrawn,
    ) -> None:
        self.registry = registry
        self.config = config or EngineConfig()
        self.clock = clock
        # True while nothing may be sent (the worker's `StallGate`): asked before each send.
        self.hold = hold
        # Asked before each attempt of a delivery (push/lane.py `_take_unwanted`): one no
        # longer wanted is dropped, `on_withdrawn` called (neither delivered nor failed).
        self.still_wanted = still_wanted
        self._on_withdrawn = on_withdrawn
        self.rand = rand
        self.seq = itertools.count()
        self._on_delivered = on_delivered
        self._on_permanent_failure = on_permanent_failure
        self._owns_client = client is None
        self._client = client if client is not None else make_client(egress=self.config.egress)
        self._ledger: DeliveredLedger = ledger if ledger is not None else InMemoryLedger()
        self._wall_clock = wall_clock
        self._channel_factory = channel_factory
        self._lanes: dict[str, _Lane] = {}
        self._pending: set[str] = set()  # ids accepted and not yet settled
        # Withdrawn while in flight (`withdraw`): the send goes on, but no retry from here;
        # submitted again (their events' partition back), the send in flight is adopted.
        self._abandoned: set[str] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    async def __aenter__(self) -> Deliverer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the API the consumer calls -----------------------------------------------------
    async def submit(self, delivery: Delivery) -> SubmitOutcome:
        if self._closed:
            raise RuntimeError("Deliverer is closed")
        delivery_id = delivery.delivery_id
        if delivery_id in self._pending:
            if delivery_id in self._abandoned:
                # Withdrawn in flight, wanted again: its outcome settles it. Answered as a
                # duplicate, its record would be acknowledged before the send settled.
                self._abandoned.discard(delivery_id)
                return SubmitOutcome.ACCEPTED
            return SubmitOutcome.DUPLICATE
        # Reserve the id before awaiting the ledger, so a concurrent twin sees it.
        self._pending.add(delivery_id)
        self._idle.clear()
        now = self.clock()
        job = _Job([(delivery, now)], enqueued_at=now)
        if await self._ledger.is_delivered(delivery_id):
            self._forget(delivery_id)
            return SubmitOutcome.DUPLICATE
        try:
            endpoint = self.registry.get(delivery.endpoint)
        except UnknownEndpointError:
            await self.fail(job, f"unknown endpoint {delivery.endpoint!r}")
            return SubmitOutcome.REJECTED
        refusal = private_refusal(delivery, endpoint)
        if refusal is not None:
            await self.fail(job, refusal)
            return SubmitOutcome.REJECTED
        self._lane(endpoint).enqueue(job)
        return SubmitOutcome.ACCEPTED

    def withdraw(self, delivery_ids: set[str]) -> set[str]:
        """Forget the named deliveries still queued or waiting for a retry (another worker
        now owns their events and sends them): they are not sent from here, and no callback
        is called. Those in flight go on, but are not retried from here (`take_abandoned`).
        Returns the ids withdrawn."""
        withdrawn: set[str] = set()
        if not delivery_ids:
            return withdrawn
        for lane in self._lanes.values():
            for delivery in lane.withdraw(delivery_ids):
                withdrawn.add(delivery.delivery_id)
                self._forget(delivery.delivery_id)
        self._abandoned |= delivery_ids & self._pending  # in flight
        return withdrawn

    def take_abandoned(self, items: list[tuple[Delivery, float]]) -> list[tuple[Delivery, float]]:
        """`items` of a job to retry, but those withdrawn while in flight: forgotten here,
        their events' new owner sends them (a retry from here would send them twice)."""
        if not self._abandoned:
            return items
        kept = []
        for item in items:
            if item[0].delivery_id in self._abandoned:
                self._forget(item[0].delivery_id)
            else:
                kept.append(item)
        return kept

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every accepted delivery is settled; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def stats(self) -> list[LaneStats]:
        return [lane.stats() for lane in self._lanes.values()]

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def aclose(self, drain_timeout: float = 0.0) -> None:
        """Stop the lanes (after draining for up to `drain_timeout`), close our client.
        Unsettled deliveries are dropped without callbacks: the consumer re-submits them
        after a restart, and the ledger keeps already-delivered ids from going twice."""
        if self._closed:
            return
        if drain_timeout > 0:
            await self.drain(drain_timeout)
        self._closed = True
        await asyncio.gather(*(lane.stop() for lane in self._lanes.values()))
        self._lanes.clear()
        if self._owns_client:
            await self._client.aclose()

    # -- used by the lanes --------------------------------------------------------------
    def _lane(self, endpoint: EndpointConfig) -> _Lane:
        lane = self._lanes.get(endpoint.name)
        if lane is None:
            channel = self._channel_factory(endpoint, self._client, self._wall_clock)
            lane = self._lanes[endpoint.name] = _Lane(self, endpoint, channel)
        # Changed in the live configuration (URL, keys, limits)? Mostly the very same object:
        # `is` first, not the models' field-by-field `!=` at every submitted delivery.
        elif lane.endpoint is not endpoint and lane.endpoint != endpoint:
            lane.reconfigure(
                endpoint, self._channel_factory(endpoint, self._client, self._wall_clock)
            )
        return lane

    def _forget(self, delivery_id: str) -> None:
        self._pending.discard(delivery_id)
        self._abandoned.discard(delivery_id)
        if not self._pending:
            self._idle.set()

    def wanted(self, delivery: Delivery) -> bool:
        """Whether `delivery` is still to be sent (the `still_wanted` hook; sent when in
        doubt: a hook that raises keeps it)."""
        if self.still_wanted is None:
            return True
        try:
            return self.still_wanted(delivery)
        except Exception:
            log.exception("still_wanted failed for %s: sent", delivery.delivery_id)
            return True

    async def drop_unwanted(self, deliveries: list[Delivery]) -> None:
        """Deliveries taken out before an attempt as no longer wanted: settled without a
        send, counted apart (`dispatch_push_withdrawn`), never LOST nor a failure."""
        for delivery in deliveries:
            WITHDRAWN.labels(delivery.kind.value).inc()
            log.info(
                "push %s %s to %s withdrawn: no longer wanted (request %s)",
                delivery.kind,
                delivery.delivery_id,
                delivery.endpoint,
                delivery.data.get("request_id", "?"),
            )
            try:
                await self._on_withdrawn(delivery)
            except Exception:
                log.exception("on_withdrawn failed for %s", delivery.delivery_id)
            finally:
                self._forget(delivery.delivery_id)

    async def succeed(self, job: _Job, now: float) -> None:
        for delivery, submitted_at in job.items:
            await self._ledger.mark_delivered(delivery.delivery_id)
            try:
                await self._on_delivered(delivery, now - submitted_at)
            except Exception:
                log.exception("on_delivered failed for %s", delivery.delivery_id)
            finally:  # after the callback, so drain() means "callbacks done" too
                self._forget(delivery.delivery_id)

    async def fail(self, job: _Job, reason: str) -> None:
        for delivery, _ in job.items:
            self._log_failure(delivery, reason)
            try:
                await self._on_permanent_failure(delivery, reason)
            except Exception:
                log.exception("on_permanent_failure failed for %s", delivery.delivery_id)
            finally:
                self._forget(delivery.delivery_id)

    @staticmethod
    def _log_failure(delivery: Delivery, reason: str) -> None:
        if delivery.kind not in MUST_ARRIVE:
            log.warning("push %s to %s failed: %s", delivery.delivery_id, delivery.endpoint, reason)
            return
        LOST.labels(delivery.kind.value).inc()
        log.critical(
            "LOST %s %s to %s (request %s): %s: call them some other way",
            delivery.kind,
            delivery.delivery_id,
            delivery.endpoint,
            delivery.data.get("request_id", "?"),
            reason,
        )
