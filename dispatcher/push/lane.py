"""One endpoint's lane: its queue, worker task, concurrency cap, token bucket, retries and
circuit breaker (the engine, `push/engine.py`, keeps one per endpoint)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, cast

import httpx

from dispatcher.push.backoff import LASTING, RetryPolicy
from dispatcher.push.batching import batch_id, merge_deliveries
from dispatcher.push.breaker import BreakerState, CircuitBreaker
from dispatcher.push.channels import Channel, WallClock
from dispatcher.push.channels.base import BatchChannel
from dispatcher.push.egress import PUBLIC_ONLY, EgressPolicy
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import (
    PRIVATE_KINDS,
    Delivered,
    Delivery,
    DeliveryResult,
    PermanentFailure,
    PushKind,
    RetryLater,
)
from dispatcher.push.token_bucket import TokenBucket

if TYPE_CHECKING:
    from dispatcher.push.engine import Deliverer

log = logging.getLogger("dispatcher.push")

OnDelivered = Callable[[Delivery, float], Awaitable[None]]  # (delivery, seconds since submit)
OnPermanentFailure = Callable[[Delivery, str], Awaitable[None]]  # (delivery, reason)
# A delivery no longer wanted (`StillWanted` said so before an attempt): not sent, not failed.
OnWithdrawn = Callable[[Delivery], Awaitable[None]]
# Asked before each attempt of a delivery, with no await between it and the send: False when
# what it says is no longer true (its request ended, the helper's assignment ended). Reads
# the caller's memory only (no I/O): it runs on the lane's task for every send.
StillWanted = Callable[[Delivery], bool]
ChannelFactory = Callable[[EndpointConfig, httpx.AsyncClient, WallClock], Channel]
Clock = Callable[[], float]


class SubmitOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # already delivered, or already queued
    REJECTED = "rejected"  # on_permanent_failure has been called


HOLD_RECHECK_S = 0.1  # how often a held lane looks whether it may send again

# Useless once old: a late offer (or its stand-down) only confuses; anything else must arrive.
SHORT_LIVED: frozenset[PushKind] = frozenset({PushKind.OFFER, PushKind.STAND_DOWN})


# The data keys of an offer planned for a helper's private channel (push/deliveries.py
# `_offer` sets them only there): its text holds that helper's own signed accept/decline
# links, bound to the first browser that opens them, so it is private like an assignment.
# The offer planned for a group carries the answer page (`/l/me`) and neither key.
PERSONAL_LINK_KEYS: tuple[str, ...] = ("accept_url", "decline_url")


def private_refusal(delivery: Delivery, endpoint: EndpointConfig) -> str | None:
    """Why `delivery` may not go to `endpoint` (contact details or a helper's own links
    into a group), if so."""
    if not endpoint.is_group:
        return None
    if delivery.kind in PRIVATE_KINDS:
        return f"{delivery.kind} is private: not for a group robot"
    if delivery.kind is PushKind.OFFER and any(k in delivery.data for k in PERSONAL_LINK_KEYS):
        return "offer holds the helper's own links (private): not for a group robot"
    return None


@dataclass(frozen=True, slots=True)
class EngineConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # the short-lived kinds'
    lasting_retry: RetryPolicy = LASTING  # every other kind's
    short_lived: frozenset[PushKind] = SHORT_LIVED
    breaker_failures: int = 5
    breaker_cool_down: float = 30.0
    max_batch: int = 20  # deliveries merged into one group message
    # A channel call is bounded by the endpoint timeout plus this grace: httpx's timeouts
    # are per phase, so a server trickling bytes could otherwise hold a call open.
    call_grace: float = 1.0
    # Which names may resolve inside the deployment (dispatcher/push/egress.py).
    egress: EgressPolicy = PUBLIC_ONLY

    def retry_for(self, kind: PushKind) -> RetryPolicy:
        return self.retry if kind in self.short_lived else self.lasting_retry


@dataclass(frozen=True, slots=True)
class LaneStats:
    endpoint: str
    queued: int
    waiting_retry: int
    in_flight: int
    breaker: BreakerState
    concurrency: int = 0  # the cap in effect now (it follows the live configuration)
    # Deliveries dropped before an attempt as no longer wanted (their request ended…): not
    # sent, not failed (`StillWanted`).
    withdrawn: int = 0


async def _ignore_delivered(delivery: Delivery, latency: float) -> None:
    return None


async def _ignore_failure(delivery: Delivery, reason: str) -> None:
    return None


async def _ignore_withdrawn(delivery: Delivery) -> None:
    return None


@dataclass(eq=False)
class _Job:
    items: list[tuple[Delivery, float]]  # (delivery, submitted at): merged jobs hold several
    enqueued_at: float
    attempts: int = 0
    last_reason: str = ""

    @property
    def head(self) -> Delivery:
        return self.items[0][0]


def priority(delivery: Delivery, short_lived: frozenset[PushKind]) -> int:
    """Its place in a lane's queue (0 first): what concerns a life-threatening request, a
    whistle or referral; then offers and stand-downs, useless once their budget is gone;
    then the rest. A mass incident's backlog of ordinary messages behind a robot's
    15/min held a "请立即拨打120" for minutes, and let later offers expire unsent."""
    if delivery.life_threatening or delivery.kind is PushKind.WHISTLE:
        return 0
    return 1 if delivery.kind in short_lived else 2


def _pair_key(delivery: Delivery) -> tuple[str, str] | None:
    """Who and which request a delivery is about: of two such, the later may not overtake
    the earlier (a stand-down its own offer, a re-offer the release notice before it)."""
    request_id = delivery.data.get("request_id")
    if delivery.recipient is None or not request_id:
        return None
    return (delivery.recipient, request_id)


class ReadyQueue:
    """A lane's jobs ready to send: by priority (`priority`), first-in first-out within
    one. A job queued after one about the same recipient and request (`_pair_key`) that
    waits at a later priority brings it up to its own: the pair keeps its order and the
    later one its priority (a critical re-offer is not held behind an ordinary backlog)."""

    LEVELS = 3

    def __init__(self, short_lived: frozenset[PushKind]) -> None:
        self.short_lived = short_lived
        self.levels: list[deque[_Job]] = [deque() for _ in range(self.LEVELS)]
        # Per level, how many queued deliveries each pair key has: a lookup per job queued,
        # not a scan of a backlog of thousands. A key whose count falls to 0 is deleted.
        self.pairs: list[Counter[tuple[str, str]]] = [Counter() for _ in range(self.LEVELS)]

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)

    def __bool__(self) -> bool:
        return any(self.levels)

    def __iter__(self) -> Iterator[_Job]:
        """In the order they would go."""
        for level in self.levels:
            yield from level

    @staticmethod
    def _keys(job: _Job) -> list[tuple[str, str]]:
        return [key for d, _ in job.items if (key := _pair_key(d)) is not None]

    def _count_out(self, level: int, job: _Job) -> None:
        pairs = self.pairs[level]
        for key in self._keys(job):
            pairs[key] -= 1
            if pairs[key] <= 0:
                del pairs[key]

    def append(self, job: _Job) -> None:
        level = priority(job.head, self.short_lived)
        keys = set(self._keys(job))
        if any(key in self.pairs[later] for later in range(level + 1, self.LEVELS) for key in keys):
            self._bring_up(level, keys)
        self.levels[level].append(job)
        self.pairs[level].update(self._keys(job))

    def _bring_up(self, level: int, keys: set[tuple[str, str]]) -> None:
        """Move to the end of `level`, in their order, the jobs waiting at a later level
        that share a pair key with `keys`, and those sharing one with them (a merged
        retry holds several): none is overtaken by one queued after it. Rare (a pair split
        across levels), so a scan of the later levels is affordable here."""
        later = [job for i in range(level + 1, self.LEVELS) for job in self.levels[i]]
        moved: set[int] = set()
        grown = True
        while grown:
            grown = False
            for job in later:
                job_keys = self._keys(job)
                if id(job) not in moved and any(k in keys for k in job_keys):
                    moved.add(id(job))
                    keys.update(job_keys)
                    grown = True
        for i in range(level + 1, self.LEVELS):
            for job in self.levels[i]:
                if id(job) in moved:
                    self._count_out(i, job)
            self.levels[i] = deque(job for job in self.levels[i] if id(job) not in moved)
        for job in later:  # in sending order
            if id(job) in moved:
                self.levels[level].append(job)
                self.pairs[level].update(self._keys(job))

    def head(self) -> _Job:
        return next(iter(self))

    def popleft(self) -> _Job:
        i = next(i for i, level in enumerate(self.levels) if level)
        job = self.levels[i].popleft()
        self._count_out(i, job)
        return job

    def keep(self, wanted: Callable[[_Job], bool]) -> None:
        """Keep the jobs `wanted` says (visited in sending order; it may shorten a job)."""
        self.levels = [deque(job for job in level if wanted(job)) for level in self.levels]
        self.pairs = [Counter(k for job in level for k in self._keys(job)) for level in self.levels]


class Slots:
    """The lane's concurrency cap, resizable while sends are in flight (the endpoint's
    `concurrency` in the live configuration): a higher limit admits more at once; a lower
    one lets those in flight finish and admits no new send until they are below it.
    One waiter only (the lane's loop), so an event is enough."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._freed = asyncio.Event()

    async def acquire(self) -> None:
        while self.in_use >= self.limit:
            self._freed.clear()
            await self._freed.wait()
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self._freed.set()

    def resize(self, limit: int) -> None:
        self.limit = limit
        self._freed.set()


class _Lane:
    """Queue and worker of one endpoint."""

    def __init__(self, owner: Deliverer, endpoint: EndpointConfig, channel: Channel) -> None:
        self.owner = owner
        self.endpoint = endpoint
        self.channel = channel
        now = owner.clock()
        rate = endpoint.effective_rate()
        self.bucket = TokenBucket(rate[0], rate[1], now) if rate else None
        cfg = owner.config
        self.breaker = CircuitBreaker(cfg.breaker_failures, cfg.breaker_cool_down)
        self.ready = ReadyQueue(owner.config.short_lived)
        self.delayed: list[tuple[float, int, _Job]] = []  # heap of retries by due time
        self.paused_until = 0.0  # set by a rate-limit answer: nothing goes out before it
        self.wake = asyncio.Event()
        self.slots = Slots(endpoint.concurrency)
        self.in_flight: set[asyncio.Task[None]] = set()
        # A webhook relay that reads batches gets every queued delivery, up to batch_max,
        # in one POST; group robots merge one wave's offers into one @-message.
        self.batches = endpoint.batch_max > 1 and isinstance(channel, BatchChannel)
        self.last_batch_at = -math.inf  # when a relay's last batch was taken (monotonic)
        self.withdrawn = 0  # deliveries dropped as no longer wanted (`_take_unwanted`)
        self.task = asyncio.create_task(self._run(), name=f"push-lane-{endpoint.name}")

    def reconfigure(self, endpoint: EndpointConfig, channel: Channel) -> None:
        """The endpoint changed (live configuration): queued and retried deliveries go to
        the new one from their next attempt; the breaker's memory is of the old URL."""
        self.endpoint, self.channel = endpoint, channel
        rate = endpoint.effective_rate()
        self.bucket = TokenBucket(rate[0], rate[1], self.owner.clock()) if rate else None
        self.breaker = CircuitBreaker(
            self.owner.config.breaker_failures, self.owner.config.breaker_cool_down
        )
        self.batches = endpoint.batch_max > 1 and isinstance(channel, BatchChannel)
        self.slots.resize(endpoint.concurrency)
        self.wake.set()

    # -- queueing -------------------------------------------------------------------
    def enqueue(self, job: _Job) -> None:
        self.ready.append(job)
        self.wake.set()

    def retry_later(self, job: _Job, due: float) -> None:
        heapq.heappush(self.delayed, (due, next(self.owner.seq), job))
        self.wake.set()

    def withdraw(self, delivery_ids: set[str]) -> list[Delivery]:
        """Take the deliveries named out of the queue and the retries, none in flight
        (those go on); returns what was taken. No callback is called for them."""
        taken: list[Delivery] = []

        def keep(job: _Job) -> bool:
            kept = [item for item in job.items if item[0].delivery_id not in delivery_ids]
            if len(kept) < len(job.items):
                taken.extend(d for d, _ in job.items if d.delivery_id in delivery_ids)
                job.items = kept
            return bool(kept)

        self.ready.keep(keep)
        delayed = [entry for entry in self.delayed if keep(entry[2])]
        if len(delayed) < len(self.delayed):
            heapq.heapify(delayed)
            self.delayed = delayed
        self.wake.set()
        return taken

    def _promote_due(self, now: float) -> None:
        while self.delayed and self.delayed[0][0] <= now:
            self.ready.append(heapq.heappop(self.delayed)[2])

    def _batchable(self, job: _Job) -> bool:
        if len(job.items) != 1:
            return False
        return self.batches or (self.endpoint.is_group and job.head.batch_key is not None)

    def _policy(self, job: _Job) -> RetryPolicy:
        return self.owner.config.retry_for(job.head.kind)

    def _take_batch(self) -> _Job:
        job = self.ready.popleft()
        if not self._batchable(job) or job.attempts:
            return job
        key = job.head.batch_key
        policy = self._policy(job)  # one budget per job: a whistle never rides an offer's
        limit = self.endpoint.batch_max if self.batches else self.owner.config.max_batch

        now = self.owner.clock()
        # Pair keys of the jobs left queued so far: one queued after such a job may not be
        # pulled ahead of it into this batch (a re-offer ahead of its release notice).
        left: set[tuple[str, str]] = set()

        def keep(other: _Job) -> bool:
            other_keys = ReadyQueue._keys(other)
            if (
                len(job.items) < limit
                and not other.attempts
                and self._batchable(other)
                and self._policy(other) is policy
                and (self.batches or other.head.batch_key == key)
                and self._deadline(other) > now  # expired: failed, not sent late
                and not any(k in left for k in other_keys)
            ):
                job.items.extend(other.items)
                return False
            left.update(other_keys)
            return True

        self.ready.keep(keep)  # visited in sending order: a batch keeps it
        return job

    def _window_opens(self, head: _Job) -> float:
        """When the batch headed by `head` may go. A relay's batches: at once after a quiet
        window or when a full batch is queued, else a window after the previous batch, with
        what queued meanwhile; a wave's deliveries are queued together (the notify agent
        submits them without yielding), so a wave is not split. A group robot's merged
        @-message: a window after its first delivery, as its wave may still be arriving."""
        window = self.endpoint.batch_window_seconds
        if self.batches:
            if len(self.ready) >= self.endpoint.batch_max:
                return -math.inf  # nothing more to wait for: a backlog drains at full speed
            return self.last_batch_at + window
        return head.enqueued_at + window

    # -- the worker -----------------------------------------------------------------
    def _deadline(self, job: _Job) -> float:
        return job.enqueued_at + self._policy(job).max_total_time

    async def _expire(self, now: float, horizon: float, blocked: str = "") -> float | None:
        """Fail queued jobs whose deadline comes before `horizon` (the earliest moment
        the lane could send again): waiting for them would only delay the bad news.
        Return the earliest remaining deadline. `blocked`: why, if not held, paused or
        the breaker."""
        expired = [job for job in self.ready if self._deadline(job) <= horizon]
        if expired:
            self.ready.keep(lambda job: self._deadline(job) > horizon)
            hold = self.owner.hold
            if hold is not None and hold():
                blocked = "pushes held after the worker stalled"
            elif self.paused_until > now:
                blocked = "endpoint rate-limited us"
            elif not blocked:  # `blocked`: the caller's reason (its own rate limit)
                blocked = f"circuit {self.breaker.state(now)}"
            for job in expired:
                # No longer wanted (its request ended meanwhile): withdrawn, not lost.
                await self._drop_unwanted(self._take_unwanted(job))
                if not job.items:
                    continue
                reason = job.last_reason or blocked
                await self.owner.fail(job, f"expired after {job.attempts} attempts: {reason}")
        return min((self._deadline(job) for job in self.ready), default=None)

    def _gate(self, now: float) -> float | None:
        """Seconds before anything may be sent (0 = go); None = wait for a probe's outcome."""
        hold = self.owner.hold
        if hold is not None and hold():
            return HOLD_RECHECK_S  # its end is not signalled: looked at again shortly
        breaker_wait = self.breaker.wait_time(now)
        if breaker_wait is None:
            return None
        return max(breaker_wait, self.paused_until - now, 0.0)

    async def _nap(self, seconds: float | None) -> None:
        if seconds is not None and seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()

    async def _run(self) -> None:
        while True:
            try:
                await self._loop()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the endpoint served even after a bug
                log.exception("push lane %s crashed; restarting", self.endpoint.name)
                await asyncio.sleep(0.1)

    async def _loop(self) -> None:
        clock = self.owner.clock
        while True:
            # Cleared before looking at the state, so any change after this wakes the nap.
            self.wake.clear()
            now = clock()
            self._promote_due(now)
            next_due = self.delayed[0][0] - now if self.delayed else None
            if not self.ready:
                await self._nap(next_due)
                continue
            gate = self._gate(now)
            if gate is None or gate > 0:
                earliest = await self._expire(now, now + (gate or 0.0))
                waits = [w for w in (gate, next_due) if w is not None]
                if earliest is not None:
                    waits.append(earliest - now)
                await self._nap(min(waits) if waits else None)
                continue
            head = self.ready.head()
            if self._deadline(head) <= now:
                await self._expire(now, now)
                continue
            if self._batchable(head) and not head.attempts:
                remaining = self._window_opens(head) - now
                if remaining > 0:
                    await self._nap(remaining)
                    continue
            if self.bucket is not None:
                wait = self.bucket.try_take(now)
                if wait > 0:
                    # Behind a priority stream the head changes: every queued job's deadline
                    # is watched, not the head's only (a late failure is bad news delayed).
                    earliest = await self._expire(now, now, "queued behind the rate limit")
                    if earliest is not None:
                        wait = min(wait, earliest - now)
                    await self._nap(wait)
                    continue
            # A slot first, then the job: one waiting for a slot stays queued (counted, and
            # merged with later ones when the endpoint batches).
            await self.slots.acquire()
            hold = self.owner.hold
            # Withdrawn while waiting for the slot (`withdraw`), or held since (a stall).
            if not self.ready or (hold is not None and hold()):
                self.slots.release()
                continue
            job = self._take_batch()
            sent_at = clock()  # after waiting for a slot
            if self.batches and not job.attempts:  # a retry does not move the window
                self.last_batch_at = sent_at
            self.breaker.on_send(sent_at)
            task = asyncio.create_task(self._attempt(job))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def _call(self, deliveries: list[Delivery]) -> DeliveryResult:
        limit = self.endpoint.timeout_seconds + self.owner.config.call_grace
        try:
            async with asyncio.timeout(limit):
                if self.batches and len(deliveries) > 1:
                    # `batches` holds only for a BatchChannel (checked where it is set): not
                    # checked again per POST, a protocol `isinstance` costs ~12 µs.
                    channel = cast(BatchChannel, self.channel)
                    return await channel.send_batch(batch_id(deliveries), deliveries)
                return await self.channel.send(merge_deliveries(deliveries))
        except TimeoutError:
            return RetryLater("timeout")
        except Exception as exc:  # a bug in a channel must not kill the lane
            log.exception("push channel %s raised", self.endpoint.name)
            return PermanentFailure(f"internal error: {type(exc).__name__}")

    def _take_private(self, job: _Job) -> list[tuple[Delivery, str]]:
        """Take out of `job` what may not go to the endpoint as it is now: a live change can
        re-point a lane at a group robot while an assignment, or an offer with the helper's
        own links, waits for a retry."""
        refused: list[tuple[Delivery, str]] = []
        kept = []
        for item in job.items:
            reason = private_refusal(item[0], self.endpoint)
            if reason is None:
                kept.append(item)
            else:
                refused.append((item[0], reason))
        job.items = kept
        return refused

    def _take_unwanted(self, job: _Job) -> list[Delivery]:
        """Take out of `job` what is no longer wanted (the engine's `StillWanted`): its
        request ended, or the helper's assignment, while it waited for a retry or its turn.
        Sent late, an assignment would bring the requester's phone and address after the
        cancellation notice, a whistle a claim link for a closed request."""
        kept: list[tuple[Delivery, float]] = []
        unwanted: list[Delivery] = []
        for item in job.items:
            if self.owner.wanted(item[0]):
                kept.append(item)
            else:
                unwanted.append(item[0])
        if unwanted:
            job.items = kept
        return unwanted

    async def _drop_unwanted(self, deliveries: list[Delivery]) -> None:
        if deliveries:
            self.withdrawn += len(deliveries)
            await self.owner.drop_unwanted(deliveries)

    async def _attempt(self, job: _Job) -> None:
        result: DeliveryResult | None = None
        unwanted: list[Delivery] = []
        try:
            # Checked with no await before the send, so no change slips in between: a
            # delivery no longer wanted is not sent, then one that may not go there.
            unwanted = self._take_unwanted(job)
            refused = self._take_private(job)
            if job.items:
                job.attempts += 1
                result = await self._call([d for d, _ in job.items])
        finally:
            self.slots.release()
        now = self.owner.clock()
        try:
            await self._drop_unwanted(unwanted)
            for delivery, reason in refused:
                await self.owner.fail(_Job([(delivery, now)], job.enqueued_at), reason)
            if result is None:
                self.breaker.record_neutral()  # nothing was sent: free a half-open probe
            else:
                await self._settle(job, result, now)
        finally:
            self.wake.set()

    async def _settle(self, job: _Job, result: DeliveryResult, now: float) -> None:
        owner = self.owner
        if isinstance(result, Delivered):
            self.breaker.record_success(now)
            await owner.succeed(job, now)
            return
        if isinstance(result, PermanentFailure):
            # One bad message says nothing about the endpoint's health.
            self.breaker.record_neutral()
            await owner.fail(job, result.reason)
            return
        policy = self._policy(job)
        job.last_reason = result.reason
        delay = policy.next_delay(job.attempts, result.retry_after, owner.rand)
        if result.throttled:
            self.breaker.record_neutral()
            delay = max(delay, policy.base_delay)
            self.paused_until = max(self.paused_until, now + delay)
        else:
            self.breaker.record_failure(now)
        job.items = owner.take_abandoned(job.items)
        # Ended while this attempt was on its way: not kept for a retry (nor failed).
        await self._drop_unwanted(self._take_unwanted(job))
        if not job.items:
            return
        if policy.should_give_up(job.attempts, now - job.enqueued_at, delay):
            await owner.fail(job, f"gave up after {job.attempts} attempts: {result.reason}")
            return
        log.info(
            "push %s to %s: %s, retry in %.2fs",
            job.head.delivery_id,
            self.endpoint.name,
            result.reason,
            delay,
        )
        self.retry_later(job, now + delay)

    def stats(self) -> LaneStats:
        return LaneStats(
            endpoint=self.endpoint.name,
            queued=len(self.ready),
            waiting_retry=len(self.delayed),
            in_flight=len(self.in_flight),
            breaker=self.breaker.state(self.owner.clock()),
            concurrency=self.slots.limit,
            withdrawn=self.withdrawn,
        )

    async def stop(self) -> None:
        tasks = [self.task, *self.in_flight]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
