"""The notify agent: events → push deliveries, delivery failures → commands.

Failures reported back: an offer nobody could get (`ReportDeliveryFailure`: the core offers
the next helper), a welcome that went nowhere, and a whistle or referral whose pushes to
the people it called all failed for good (`ReportStaffNotReached`, once per event).

What each event delivers, where, is dispatcher/push/deliveries.py (pure); here is only the
bookkeeping. A Faust event is acknowledged only when every delivery it caused has been
delivered or has failed for good, so a crash re-sends (the delivery id, the event id, makes
duplicates harmless to a deduping receiver).

Pushed early (`DISPATCH_NOTIFY_EARLY`): the dispatch agent hands over each decision's events
once Kafka has acknowledged their record, so an offer is pushed without waiting for the
record's trip back to this worker's consumer (a Kafka hop, and Faust's path to the agent).
The record still comes: it is acknowledged when the deliveries its events caused early are
settled, and planned again only if this worker has no memory of them (a bounded one; the
delivery ids then dedupe), so the guarantee above is the consumer's, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from pydantic import ValidationError

from dispatcher.clock import Clock
from dispatcher.core.ladder import keeps_assigned
from dispatcher.links import action_links, helper_link
from dispatcher.ops import metrics as ops_metrics
from dispatcher.push import Deliverer, Delivery, EndpointRegistry, PushKind
from dispatcher.push.deliveries import DeliveryPlanner, Planned, StaffCall
from dispatcher.push.egress import EgressPolicy
from dispatcher.push.lane import EngineConfig, SubmitOutcome
from dispatcher.recipient_links import recipient_links
from dispatcher.sealing import keyring
from schemas.commands import (
    Command,
    CommandBody,
    ReportDeliveryFailure,
    new_command,
    staff_not_reached_command,
)
from schemas.events import Event
from schemas.helper_messages import ReportWelcomeOutcome
from schemas.records import OfferStatus, RequestState, RequestStatus
from streams.batch_ack import BatchAck, EventAck
from streams.config_agent import ConfigAgent
from streams.dead_letter import DeadLetterSink, short
from streams.decoded_events import DecodedEvents
from streams.membership_lease import lease_of
from streams.runtime import WorkerRuntime
from streams.stall_gate import TICK_S as STALL_TICK_S
from streams.stall_gate import StallGate, threshold_for

log = logging.getLogger(__name__)


# What a push says only while its request is live (`Notifier.still_wanted`): an assignment
# (the requester's contact), a whistle or referral (a claim link), an offer. A cancellation
# tells of the end; a welcome, thank-you or summary does not depend on it. A stand-down
# ("covered") is checked too, but not against the request's end (`_stand_down_true`).
LIVE_ONLY: frozenset[PushKind] = frozenset({PushKind.ASSIGNMENT, PushKind.WHISTLE, PushKind.OFFER})
CHECKED: frozenset[PushKind] = LIVE_ONLY | {PushKind.STAND_DOWN}


def _stand_down_true(request: RequestState, delivery: Delivery) -> bool:
    """A "covered" stand-down (已有邻居接手，无需再来) while its offer is still stood down and
    its helper holds no active assignment of the request. Waiting to retry (up to minutes),
    it went out after the helper was asked again under the same offer id on a reopened slot
    (the offer open again), or after they accepted that, or beside a leader's sign-up."""
    helper_id = delivery.recipient
    if any(a.active and a.helper_id == helper_id for a in request.assignments):
        return False
    offer_id = delivery.data.get("offer_id")
    for o in request.offers:
        if o.offer_id == offer_id:
            return o.status is OfferStatus.STOOD_DOWN
    return True


# Events whose deliveries have all settled here (by either path): their record, read (again)
# after that, is acknowledged at once, and an early push of them is not made. Past this many
# the oldest are forgotten, and such an event is planned again: its delivery ids dedupe.
# ~100 bytes each; tens of seconds of events at the ceiling's rate.
SETTLED_KEPT = 65536


@dataclass
class _Held:
    """An event's deliveries not yet settled, and what to acknowledge when they are: the
    Faust events of its record as read (none yet for an event handed over early).
    `claimed`: handed over for an early push that has not begun: its record, read first,
    waits for it rather than being planned (so pushes keep the order decided)."""

    remaining: set[str]
    acks: list[Any]
    claimed: bool = False
    #: The partition of its record (the `events` topic's; its command's number): when the
    #: partition moves to another worker, what is still queued here is theirs to send.
    partition: int | None = None


@dataclass
class _Call:
    """A whistle's or referral's pushes to people not settled yet; whether one arrived."""

    call: StaffCall
    waiting: set[str]
    reached: bool = False
    #: One of its pushes was dropped as no longer wanted (its request ended): nobody to
    #: report unreached for a request that has ended.
    ended: bool = False


@dataclass
class Notifier:
    planner: DeliveryPlanner
    send_command: Callable[[Command], Awaitable[None]]
    clock: Clock
    engine: EngineConfig = field(default_factory=EngineConfig)
    on_result: Callable[[Delivery, bool, float | None], None] = lambda d, ok, latency: None
    # True while no push may go out (streams/stall_gate.py), asked by the lanes before a send.
    hold: Callable[[], bool] | None = None
    _deliverer: Deliverer | None = None
    _pending: dict[str, _Held] = field(default_factory=dict)  # by event id
    # Delivery id (or `reports/<event id>`) → event id.
    _owner: dict[str, str] = field(default_factory=dict)
    # Reports to send (ReportDeliveryFailure, ReportWelcomeOutcome), each with what it settles
    # once sent: a finished delivery, or an event's planned reports (`reports/<event id>`);
    # None for all but the last of a group.
    _unreachable: list[tuple[Command, str | None]] = field(default_factory=list)
    # One flush at a time, each report dropped only once sent: an event is acknowledged
    # after its reports went (two tasks push: the early one and the consumer's).
    _flushing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _retrying: asyncio.Task[None] | None = None  # the reports' retry after a failed send
    _settled: OrderedDict[str, None] = field(default_factory=OrderedDict)
    # Delivery id → the staff call it is part of (`_Call`), until it is settled.
    _calls: dict[str, _Call] = field(default_factory=dict)
    early_pushed: int = 0  # events pushed early (the worker's /stats)
    record_pushed: int = 0  # events pushed from their record (the worker's /stats)
    withdrawn: int = 0  # pushes dropped as no longer wanted (`still_wanted`)

    @property
    def registry(self) -> EndpointRegistry:
        return self.planner.registry

    @property
    def enabled(self) -> bool:
        return len(self.registry) > 0

    async def deliverer(self) -> Deliverer:
        if self._deliverer is None:
            d = Deliverer(
                self.registry,
                on_delivered=self._delivered,
                on_permanent_failure=self._failed,
                config=self.engine,
                clock=self.clock.monotonic,
                wall_clock=lambda: self.clock.now().timestamp(),  # signature timestamps
                hold=self.hold,
                still_wanted=self.still_wanted,
                on_withdrawn=self._withdrawn,
            )
            await d.__aenter__()
            self._deliverer = d
        return self._deliverer

    def lanes(self) -> list[dict[str, Any]]:
        """Each endpoint lane's queue, sends in flight and cap (the worker's /stats)."""
        if self._deliverer is None:
            return []
        lanes = []
        for lane in self._deliverer.stats():
            # The cap configured now: a lane takes a change with its next delivery.
            registry = self.registry
            limit = registry.get(lane.endpoint).concurrency if lane.endpoint in registry else None
            lanes.append({**asdict(lane), "configured_concurrency": limit})
        return lanes

    async def close(self) -> None:
        if self._retrying is not None:  # what it still holds is pushed again after a restart
            self._retrying.cancel()
        self._calls.clear()  # its pushes are dropped unsettled: planned again after a restart
        if self._deliverer is not None:
            await self._deliverer.aclose(drain_timeout=2.0)
            self._deliverer = None

    async def handle(self, faust_event: Any, event: Event, partition: int | None = None) -> None:
        """Submit the deliveries `event` causes; ack `faust_event` when they are done. An
        event handed over or pushed early, or settled here, is not planned again: its
        record waits for those deliveries, or is acknowledged at once."""
        key = event.event_id
        held = self._pending.get(key)
        if held is not None:
            held.acks.append(faust_event)
            return
        if key in self._settled:
            faust_event.ack()
            return
        self.record_pushed += 1
        try:
            await self._push(event, _Held(set(), [faust_event], partition=partition))
        except Exception:
            self._pending.pop(key, None)  # the caller acknowledges it (dead-lettered)
            raise

    def claim(self, event: Event, partition: int | None = None) -> bool:
        """At the hand-over of an event whose record Kafka acknowledged: whether it is left
        to an early push (not when its record came first, or it has settled here)."""
        key = event.event_id
        if key in self._pending or key in self._settled:
            return False
        self._pending[key] = _Held(set(), [], claimed=True, partition=partition)
        return True

    def withdraw_moved(self, assigned: frozenset[int]) -> tuple[int, int]:
        """This worker's `events` partitions are now `assigned`: the events of any other
        partition are forgotten unacknowledged, and their deliveries still queued or waiting
        for a retry are not sent from here. Their partitions' new owners read the records
        from the committed offset and send them; before, this worker went on sending its
        whole queue while the new owner sent it again (a group robot posted each offer
        twice). Only sends in flight go on, and their outcomes settle nothing here.
        Returns (events, deliveries) withdrawn."""
        moved = [
            (key, held)
            for key, held in self._pending.items()
            if held.partition is not None and held.partition not in assigned
        ]
        ids: set[str] = set()
        for key, held in moved:
            del self._pending[key]
            for delivery_id in held.remaining:
                self._owner.pop(delivery_id, None)
                self._calls.pop(delivery_id, None)  # the call's report is the new owner's
                ids.add(delivery_id)
        withdrawn = self._deliverer.withdraw(ids) if self._deliverer is not None else set()
        return len(moved), len(withdrawn)

    def release(self, event: Event) -> list[Any]:
        """A claimed event not to be pushed early after all: the acknowledgements of its
        record already read, to be handled as the record's own."""
        held = self._pending.get(event.event_id)
        if held is None or not held.claimed:
            return []
        del self._pending[event.event_id]
        return held.acks

    async def early(self, event: Event, partition: int | None = None) -> list[Any]:
        """Submit the deliveries of an event whose record Kafka has acknowledged, before
        the record is read back (claimed then, if not yet); nothing twice. Should that fail,
        it is as if it had not been pushed early: the acknowledgements of its record already
        read are returned, to be handled as the record's own."""
        key = event.event_id
        held = self._pending.get(key)
        if held is None:
            if not self.claim(event, partition):  # its claim withdrawn, its partition back
                return []
            held = self._pending[key]
        if not held.claimed:  # being pushed already, from its record or early
            return []
        held.claimed = False
        self.early_pushed += 1
        try:
            await self._push(event, held)
        except Exception:
            log.exception("early push of event %s failed: its record's turn", key)
            self._pending.pop(key, None)
            return held.acks
        return []

    async def _push(self, event: Event, held: _Held) -> None:
        key = event.event_id
        planned = self.planner.plan(event) if self.enabled else Planned()
        for warning in planned.warnings:
            log.warning("%s", warning)
        # Held before the first await: the event's record, read meanwhile, waits for it.
        held.remaining = {d.delivery_id for d in planned.deliveries}
        self._pending[key] = held
        reports = [
            self._command(failed, event.community_id)
            for failed in (*planned.undeliverable, *planned.unwelcomed)
        ]
        call = planned.call
        if call is not None and not call.delivery_ids:
            # A whistle or referral with nobody to call: reported now, as one whose every
            # push failed, so the ladder climbs rather than waiting on nobody.
            reports.append(self._not_reached(call, call.report.reason))
        if reports:  # the event waits for its reports' send as for a delivery's
            sent = f"reports/{key}"
            self._owner[sent] = key
            held.remaining.add(sent)
            self._queue(reports, settles=sent)
            await self._flush_or_retry()  # a refused send holds the event, not the pushes
        if not planned.deliveries:
            if not reports:  # nothing to wait for
                del self._pending[key]
                self._done(key, held.acks)
            return
        if planned.call is not None:
            tracked = _Call(planned.call, set(planned.call.delivery_ids))
            self._calls.update(dict.fromkeys(planned.call.delivery_ids, tracked))
        deliverer = await self.deliverer()
        for d in planned.deliveries:
            if self._pending.get(key) is not held:  # withdrawn meanwhile (`withdraw_moved`)
                self._withdraw_late(key, planned.deliveries)
                return
            self._owner[d.delivery_id] = key
            outcome = await deliverer.submit(d)
            if outcome is SubmitOutcome.DUPLICATE:  # already delivered or queued: done here
                self._call_outcome(d, None)
                self._settle(d.delivery_id)
        if self._pending.get(key) is not held:
            self._withdraw_late(key, planned.deliveries)

    def _withdraw_late(self, key: str, deliveries: Sequence[Delivery]) -> None:
        """An event withdrawn while its deliveries were being submitted: those submitted are
        withdrawn too. Not when it has settled, or has been planned again since (its
        partition back: the new plan owns the same delivery ids)."""
        deliverer = self._deliverer
        if key not in self._pending and key not in self._settled and deliverer is not None:
            deliverer.withdraw({d.delivery_id for d in deliveries})

    def still_wanted(self, delivery: Delivery) -> bool:
        """Asked by the lanes before each attempt (no await between it and the send), from
        this worker's state (the planner's lookups, no I/O): whether what the push says is
        still true. An assignment (the requester's contact) only while its request is live
        (or handed to 120/110/119, which keeps the helpers) and the helper's assignment
        active; a whistle or referral only while the request is live and nobody has claimed
        it; an offer while the request is live and the offer open. Held back by an outage
        or a throttle, they arrived after the request was cancelled or resolved: the
        contact after the cancellation notice, a claim link for a closed request. A request
        unknown here (not held, or gone): sent as decided. A stand-down only while it is
        true (`_stand_down_true`)."""
        kind = delivery.kind
        if kind not in CHECKED:
            return True
        request = self.planner.request(delivery.data.get("request_id") or "")
        if request is None:
            return True
        if kind is PushKind.STAND_DOWN:
            return _stand_down_true(request, delivery)
        if kind is PushKind.ASSIGNMENT:
            # Ended, it stands the helpers down, but handed to 120/110/119, which keeps them
            # on their way (`ladder.keeps_assigned`): they are told to go on if they can.
            referred = request.referred_to
            if request.terminal and not (
                request.status is RequestStatus.REFERRED
                and referred is not None
                and keeps_assigned(referred)
            ):
                return False
            offer_id = delivery.data.get("offer_id")
            for a in request.assignments:
                if a.offer_id == offer_id and a.helper_id == delivery.recipient:
                    return a.active
            return True
        if request.terminal:
            return False
        if kind is PushKind.WHISTLE:
            # Claimed, the request calls no more staff (`ladder.calls_staff`).
            return request.claimed_by is None
        if kind is PushKind.OFFER:
            offer_id = delivery.data.get("offer_id")
            for o in request.offers:
                if o.offer_id == offer_id:
                    return o.status is OfferStatus.OPEN
        return True

    async def _withdrawn(self, delivery: Delivery) -> None:
        """A push dropped as no longer wanted: settled as a delivered one is (its event
        acknowledged once all of its pushes are), with no report: neither a failed offer
        nor a staff call that reached nobody (its request has ended)."""
        self.withdrawn += 1
        tracked = self._calls.pop(delivery.delivery_id, None)
        if tracked is not None:
            tracked.waiting.discard(delivery.delivery_id)
            tracked.ended = True
        self._settle(delivery.delivery_id)

    # ---------------------------------------------------------------- results
    async def _delivered(self, delivery: Delivery, latency: float) -> None:
        self.on_result(delivery, True, latency)
        self._call_outcome(delivery, None)
        await self._report(
            delivery, self._commands(delivery, self._welcome_outcome(delivery, sent=True))
        )

    def _welcome_outcome(self, delivery: Delivery, *, sent: bool) -> list[CommandBody]:
        """A welcome is marked sent only once a private channel took it (issue 14)."""
        if delivery.kind is not PushKind.WELCOME:
            return []
        d = delivery.data
        reason = "" if sent else "push failed for good"
        return [ReportWelcomeOutcome(helper_id=d["helper_id"], sent=sent, reason=reason)]

    def _commands(self, delivery: Delivery, reports: list[CommandBody]) -> list[Command]:
        return [self._command(body, delivery.data["community_id"]) for body in reports]

    def _call_outcome(self, delivery: Delivery, lost: str | None) -> list[Command]:
        """A push of a staff call settled (`lost`: why it failed for good, else None): the
        report that nobody was reached once the call's last push is lost, none arrived."""
        tracked = self._calls.pop(delivery.delivery_id, None)
        if tracked is None:
            return []
        tracked.waiting.discard(delivery.delivery_id)
        tracked.reached = tracked.reached or lost is None
        if tracked.waiting or tracked.reached or tracked.ended:
            return []
        return [self._not_reached(tracked.call, lost or "")]

    def _not_reached(self, call: StaffCall, reason: str) -> Command:
        """The report that `call` reached none of the people it called (none: nobody to
        call); its id derived from the event, so a restart sends the same command."""
        log.error(
            "%s of request %s reached none of the %d people it called: reported",
            call.report.rung,
            call.report.request_id,
            call.report.recipients,
        )
        return staff_not_reached_command(
            call.report.model_copy(update={"reason": reason[:200]}),
            community_id=call.community_id,
            event_id=call.event_id,
            issued_at=self.clock.now(),
        )

    async def _report(self, delivery: Delivery, commands: list[Command]) -> None:
        """Send a finished delivery's reports, then settle it. A send that fails keeps the
        reports queued and the delivery unsettled (its event unacknowledged, so a restart
        pushes it again) and is retried with backoff: never dropped, never a stalled event
        once Kafka takes them."""
        if not commands:
            self._settle(delivery.delivery_id)
            return
        self._queue(commands, settles=delivery.delivery_id)
        await self._flush_or_retry()

    def _queue(self, commands: list[Command], settles: str) -> None:
        """Reports to send, in order; the last one's send settles `settles`."""
        *first, last = commands
        self._unreachable += [(command, None) for command in first]
        self._unreachable.append((last, settles))

    async def _flush_or_retry(self) -> None:
        """Send the queued reports; should a send fail they stay queued, what they settle
        waits, and a task retries them with backoff: never dropped, never a caller stopped."""
        try:
            await self.flush_unreachable()
        except Exception as exc:
            log.warning("delivery report not sent (%s): retrying", type(exc).__name__)
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.create_task(self._retry_reports())

    async def _retry_reports(self, first_s: float = 1.0, max_s: float = 30.0) -> None:
        delay = first_s
        while self._unreachable:
            await asyncio.sleep(delay)
            try:
                await self.flush_unreachable()
            except Exception as exc:
                log.warning("delivery report still not sent (%s)", type(exc).__name__)
                delay = min(delay * 2, max_s)

    async def _failed(self, delivery: Delivery, reason: str) -> None:
        self.on_result(delivery, False, None)
        log.warning(
            "delivery %s to %s failed for good: %s",
            delivery.delivery_id,
            delivery.endpoint,
            reason[:200],
        )
        reports: list[CommandBody] = []
        if delivery.kind is PushKind.OFFER:
            d = delivery.data
            reports.append(
                ReportDeliveryFailure(
                    request_id=d["request_id"],
                    offer_id=d["offer_id"],
                    helper_id=d["helper_id"],
                    reason=reason[:200],
                )
            )
        reports += self._welcome_outcome(delivery, sent=False)
        await self._report(
            delivery, self._commands(delivery, reports) + self._call_outcome(delivery, reason)
        )

    def _command(self, failed: CommandBody, community_id: str) -> Command:
        return new_command(failed, community_id=community_id, issued_at=self.clock.now())

    async def flush_unreachable(self) -> None:
        async with self._flushing:
            while self._unreachable:
                command, settles = self._unreachable[0]
                await self.send_command(command)
                self._unreachable.pop(0)  # only once sent: a failed send is tried again
                if settles is not None:
                    self._settle(settles)

    def _settle(self, delivery_id: str) -> None:
        key = self._owner.pop(delivery_id, None)
        if key is None or key not in self._pending:
            return
        held = self._pending[key]
        held.remaining.discard(delivery_id)
        if not held.remaining:
            del self._pending[key]
            self._done(key, held.acks)

    def _done(self, key: str, acks: list[Any]) -> None:
        """Every delivery of event `key` settled: ack its record's events as read so far,
        and remember it (a record read later is acknowledged at once; no early push)."""
        for faust_event in acks:
            faust_event.ack()
        self._settled[key] = None
        if len(self._settled) > SETTLED_KEPT:
            self._settled.popitem(last=False)


@dataclass
class NotifyAgent:
    notifier: Notifier
    sink: DeadLetterSink
    per_endpoint: Callable[[str, bool], None] = lambda endpoint, ok: None
    config: ConfigAgent | None = None
    #: Whether this worker's state covers a partition, waiting out a rebuild (`rt.owns`).
    owns: Callable[[int], Awaitable[bool]] | None = None
    #: Shared with the record agent, which reads the same records (streams/decoded_events.py).
    decoded: DecodedEvents = field(default_factory=DecodedEvents)
    #: Decisions' events handed over by the dispatch agent once Kafka acknowledged them.
    _early: asyncio.Queue[tuple[int, Sequence[tuple[int, Event]]]] = field(
        default_factory=asyncio.Queue
    )
    #: This worker's `events` partitions since the last assignment (None before the first):
    #: an early push of another partition's event is left to its record's new owner.
    assigned: frozenset[int] | None = None
    #: The worker state's generation (`WorkerState.generation`): an early push is planned
    #: only against the state its events were decided on, else left to the record's path.
    generation: Callable[[], int] = lambda: 0
    #: Holds the pushes after a stall long enough to be expelled (installed by `install`).
    stall: StallGate | None = None
    #: The group generation of the last assignment (None before the first).
    group_generation: int | None = None

    @classmethod
    def for_runtime(
        cls,
        rt: WorkerRuntime,
        sink: DeadLetterSink,
        config: ConfigAgent | None = None,
        decoded: DecodedEvents | None = None,
    ) -> NotifyAgent:
        settings = rt.settings
        planner = DeliveryPlanner(
            # Live (streams/config_agent.py): changed in place, used from the next push.
            registry=config.view.endpoints if config else EndpointRegistry(settings.push_endpoints),
            helper=lambda hid: rt.state.core.helpers.get(hid),
            request=lambda rid: rt.state.core.requests.get(rid),
            offer_links=partial(action_links, settings),
            recipient_links=partial(recipient_links, settings),
            keys=keyring(settings),
            public_base_url=settings.public_base_url,
            default_endpoint=settings.push_default_endpoint,
            personal_link=lambda hid, cid, now: helper_link(
                settings, helper_id=hid, community_id=cid, now=now
            ),
            whistle_recipients=config.view.whistle_recipients if config else lambda c: (),
            hotlines=config.view.hotlines if config else lambda c: (),
            now=rt.clock.now,
            # Stand-downs skip helpers inside their do-not-disturb on the community's clock.
            community=lambda cid: rt.state.core.communities.get(cid),
        )
        agent = cls(
            Notifier(
                planner,
                rt.send_command,
                rt.clock,
                EngineConfig(egress=EgressPolicy(settings.outbound_private_hosts)),
            ),
            sink,
            rt.stats.note_push,
            config,
            owns=rt.owns,
            decoded=DecodedEvents() if decoded is None else decoded,
        )
        agent.notifier.on_result = agent.observe_push
        return agent

    def install(self, rt: WorkerRuntime) -> None:
        if not self.notifier.enabled and self.config is None:
            log.warning(
                "no push endpoints configured (DISPATCH_PUSH_ENDPOINTS): notify agent is off"
            )

        # Faust assigns co-partitioned topics (same partition count) to the same worker, so
        # the notify agent reads helpers and requests of its partitions from this worker's state.
        rt.stats.lanes = self.notifier.lanes

        @rt.app.agent(rt.events, concurrency=1, name="notify")
        async def notify(stream: Any) -> None:
            async for event in stream.noack().events():
                await self.handle(event)

        events_topic = rt.settings.events_topic

        async def on_assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
            self.on_assigned(
                frozenset(tp.partition for tp in assigned if tp.topic == events_topic),
                # Set by Faust's driver before the signal (faust/transport/drivers/aiokafka.py).
                rt.app.consumer_generation_id,
            )

        # Faust's signal, sent with every assignment (aiokafka's protocol is eager: the whole
        # of it, kept partitions included); `connect` keeps a strong reference by default.
        rt.app.on_partitions_assigned.connect(on_assigned)

        settings = rt.settings
        stall = self.stall = StallGate(
            threshold_for(
                settings.broker_session_timeout_seconds, settings.broker_heartbeat_interval_seconds
            ),
            lambda: lease_of(rt.app),
        )
        self.notifier.hold = stall.holding
        rt.stats.push_stalls = stall.summary

        @rt.app.task
        async def watch_stalls() -> None:
            while True:
                await asyncio.sleep(STALL_TICK_S)
                stall.tick()

        rt.stats.notify_from_record = lambda: self.notifier.record_pushed
        if rt.settings.notify_early:
            self.generation = lambda: rt.state.generation
            rt.emitted = self.hand_over
            rt.stats.notify_early = lambda: self.notifier.early_pushed
            rt.app.task(self.push_early)

    def on_assigned(self, partitions: frozenset[int], generation: int | None = None) -> None:
        """A new assignment: pushes still queued for events of partitions no longer this
        worker's are withdrawn (`Notifier.withdraw_moved`), early ones not yet begun too.
        After generations this worker missed (expelled, or a join that failed), any of its
        partitions may have been served by another meanwhile: all of them are withdrawn,
        and their records read again from the committed offsets."""
        self.assigned = partitions
        last, self.group_generation = self.group_generation, generation
        missed = last is not None and generation is not None and generation > last + 1
        try:
            events, deliveries = self.notifier.withdraw_moved(frozenset() if missed else partitions)
        except Exception:  # out of Faust's signal it would crash the worker (`app.crash`)
            log.exception("withdrawing the moved partitions' pushes failed")
            return
        finally:
            if self.stall is not None:
                self.stall.assigned()  # after the withdrawal: what is left is this worker's
        if missed and events:
            log.info(
                "rejoined after missed rebalances (generation %s -> %s): %d pushes of %d "
                "events withdrawn, their records read again from the committed offsets",
                last,
                generation,
                deliveries,
                events,
            )
            return
        if events:
            log.info(
                "partitions moved to another worker: %d pushes of %d events withdrawn, "
                "left to the partitions' new owner",
                deliveries,
                events,
            )

    def hand_over(self, events: Sequence[tuple[int, Event]]) -> None:
        """The dispatch agent's events, acknowledged by Kafka, each with its partition:
        claimed at once (a record read before their push then waits for it), pushed by
        `push_early`."""
        claimed = [(p, e) for p, e in events if self.notifier.claim(e, p)]
        if claimed:
            self._early.put_nowait((self.generation(), claimed))

    async def push_early(self) -> None:
        """The events handed over, pushed in the order they were decided (one task: the
        dispatch agent never waits for a push). After a rebuild of the state (a rebalance),
        or once their partition is another worker's, they are left to their records, read
        by whoever owns their partitions now."""
        while True:
            generation, events = await self._early.get()
            for partition, decoded in events:
                assigned = self.assigned
                if self.generation() != generation or (
                    assigned is not None and partition not in assigned
                ):
                    waiting = self.notifier.release(decoded)
                else:
                    waiting = await self.notifier.early(decoded, partition)
                for part in waiting:
                    await self._redo(part, decoded)

    async def _redo(self, part: EventAck, decoded: Event) -> None:
        """An event's record read while its early push was pending, which did not happen:
        handled as the record's own, after the same ownership check."""
        record = part.batch.record
        if self.owns is not None and not await self.owns(record.message.partition):
            return  # moved away: not acknowledged, its new owner pushes it
        await self._handle_event(record, part, decoded)

    def observe_push(self, delivery: Delivery, ok: bool, latency: float | None) -> None:
        # Label by endpoint kind (webhook, wecom…), never by name: bounded cardinality.
        kind = self.notifier.registry.get(delivery.endpoint).kind.value
        self.per_endpoint(delivery.endpoint, ok)
        if ok:
            ops_metrics.observe_delivery(kind, seconds=latency)
        else:
            ops_metrics.observe_delivery_failure(kind, "permanent")

    async def handle(self, event: Any) -> None:
        if self.config is not None:  # no event is judged against a configuration half read
            await self.config.follower.ready.wait()
        # The planner reads this worker's helpers and requests: after a restart or a rebalance
        # not before they are rebuilt, or a re-read offer finds no helper and is failed as
        # "no usable channel". Moved away: not acknowledged, its new owner pushes it.
        if self.owns is not None and not await self.owns(event.message.partition):
            return
        try:
            events = self.decoded.decode(event.value).events
        except (ValidationError, ValueError):
            event.ack()  # the record agent dead-letters it; one letter is enough
            return
        if not events:  # only events this release cannot read: the record agent letters them
            event.ack()
            return
        # A record holds a decision's events: it is acknowledged once each of them is.
        for decoded, part in zip(events, BatchAck.parts(event, len(events)), strict=True):
            await self._handle_event(event, part, decoded)

    async def _handle_event(self, record: Any, part: EventAck, decoded: Event) -> None:
        try:
            await self.notifier.handle(part, decoded, record.message.partition)
        except Exception as exc:  # a push problem must never stop the stream
            log.exception("notify failed for event %s", decoded.event_id)
            reason = f"event {decoded.event_id} ({decoded.body.type}): {short(exc)}"
            await self.sink.send(record, reason, "notify")
            part.ack()
