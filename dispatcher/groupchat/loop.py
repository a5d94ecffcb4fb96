"""The group-reply loop in the API process: the immediate reply, then updates from `events`.

Each group has one queue and one task, so its messages go out in order: the intake puts
the immediate reply ("已收到…", with 120 advice where life is at risk) on the queue before
the request can cause any event, and the events consumer (its own consumer group) puts
the updates after it. A wave of offers (one command's) is folded into one "已通知N位附近邻居",
posted when another event of the request that the group hears of (or that ends it) arrives
or no offer has come for 0.25 s; only a wave reaching a new step is announced (a decline's
replacement offer is not news to the group).

Nothing is lost: each post is recorded pending in PostgreSQL (`api_group_posts`) before the
events' offsets are committed (and offsets are not committed while a wave is still being
folded), and marked sent after delivery. A send that fails, or that an API stop cut short,
is retried by the sweeper (`sweep_forever`) with backoff while it is news (MAX_EVENT_AGE).
A post's key is recorded once and a lease lets one sender at a time send it, so a replayed
event or a second API instance never posts twice. Order: a group's posts go out in order
from one instance; a retried post arrives after the ones that followed it (a robot down for
a minute delays its message; it is not held back in front of the later ones).

A post's text is kept only until it is sent (`mark_sent` empties it). An assignment naming
an opted-in helper is opened in memory only: its post is recorded sealed under the contact
key (bound to the post's key), opened again just before the sweeper sends it; the name is
never in PostgreSQL in the clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from dispatcher.clock import utcnow
from dispatcher.groupchat import texts
from dispatcher.groupchat.bots import GroupPlace, place_of_label
from dispatcher.groupchat.sender import GroupSender
from dispatcher.kafka_security import client_options
from dispatcher.push import recipients
from dispatcher.push.endpoints import EndpointRegistry
from dispatcher.push.recipients import serves
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from dispatcher.record.read import request_flags, requests
from dispatcher.record.read.request_flags import Pause
from dispatcher.sealing import KeyRing, Unreadable, group_name
from dispatcher.settings import Settings
from schemas.config import Hotline, WhistleRecipient
from schemas.event_batch import decode_record
from schemas.events import (
    Event,
    HelperAssigned,
    HelperWithdrawn,
    OfferSent,
    OffersSent,
    OffersStoodDown,
    OfferStoodDown,
    RequestCancelled,
    RequestExpired,
    RequestPaused,
    RequestReferred,
    RequestResolved,
    WhistleBlown,
)
from schemas.places import PlacePath
from schemas.staff_actions import RequestClaimed
from schemas.vocab import Party, ReferralTarget

log = logging.getLogger(__name__)

MAX_EVENT_AGE = timedelta(hours=1)  # after a long outage, old news is not posted
PURGE_EVERY_S = 600.0
READY_WAIT_S = 2.0
WAVE_SETTLE_S = 0.25
# A wave keeps its offsets uncommitted; past this, open waves are posted as they stand so
# a stream of offers to other requests cannot hold the commit back for long.
COMMIT_WAIT_S = 5.0
LEASE_S = 120.0  # longer than one send with its retries (4 tries of a 5 s timeout)
RETRY_BASE_S = 15.0  # the sweeper's backoff: 15 s, 30 s, 1 min, … up to RETRY_MAX_S
RETRY_MAX_S = 300.0
SWEEP_EVERY_S = 5.0
SWEEP_BATCH = 100
MAX_REFERRALS_KEPT = 4096

PoolGetter = Callable[[], Awaitable[asyncpg.Pool]]


class WhistlePeople(Protocol):
    """How many people a community's whistle calls for a request at `place` (None: the
    place is not known, and the whole list counts); None: not known here."""

    def __call__(self, community_id: str, place: PlacePath | None = None) -> int | None: ...


@dataclass
class _Wave:
    """Offers sent by one command (one ring's wave): posted as one "已通知N位"."""

    caused_by: str
    threads: list[Thread]
    step: int = 0  # the wave's highest: its post key, so a later top-up of it is not news
    count: int = 0
    last_seen: float = 0.0


def group_replies_group(settings: Settings) -> str:
    return f"{settings.app_id}-group-replies"


class GroupReplies:
    def __init__(
        self,
        sender: GroupSender,
        pool: PoolGetter,
        on_posted: Callable[[Thread, str, float], None] = lambda t, k, s: None,
        clock: Callable[[], datetime] = utcnow,
        keys: KeyRing | None = None,
        hotlines: Callable[[str], Sequence[Hotline]] = lambda community_id: (),
        whistle_people: WhistlePeople = lambda community_id, place=None: None,
        group_place: Callable[[str, str], GroupPlace | None] = lambda bot_id, group_id: None,
    ) -> None:
        self._hotlines = hotlines  # the community's configured numbers (live configuration)
        # How many people the community's whistle list calls for a request's place
        # (`whistle_people` below, over the live configuration); None: not known here, the
        # whistle's text trusts the list.
        self._whistle_people = whistle_people
        # Where a bot's group lives (the live bots' configuration): a request raised there
        # is at that place (`bots.place_of_label`).
        self._group_place = group_place
        self._sender = sender
        self._keys = keys  # opens an opted-in helper's name box (HelperAssigned)
        self._clock = clock  # the API's (ApiDeps.clock)
        self._pool = pool
        self._on_posted = on_posted
        self._queues: dict[tuple[str, str], asyncio.Queue[threads.Pending]] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._ready: dict[tuple[str, str, str], asyncio.Event] = {}
        self._last_purge = 0.0
        self._waves: dict[str, _Wave] = {}  # request → its offer wave not yet posted
        # Referrals read (request → where, when), the latest MAX_REFERRALS_KEPT.
        self._referrals: dict[str, tuple[ReferralTarget, datetime]] = {}
        # Pauses for quiet hours read (request → the latest: when, until, local HH:MM), as
        # many as referrals.
        self._pauses: dict[str, Pause] = {}

    # ------------------------------------------------------------ intake side
    def expect(self, thread: Thread) -> None:
        """Before queueing a request: its updates wait until the immediate reply is queued."""
        self._ready.setdefault((thread.request_id, *thread.key), asyncio.Event())

    async def immediate(self, thread: Thread, text: str, message_id: str) -> None:
        """The answer to one platform message (keyed by it: a second report merged into the
        same request gets its own answer, a platform's re-send of the message does not)."""
        try:
            await self._record(
                f"first:{thread.bot_id}:{thread.group_id}:{message_id}", thread, text
            )
        finally:
            self.release(thread)

    async def send_unrecorded(self, thread: Thread, text: str, delivery_id: str) -> bool:
        """Straight to the group, recorded nowhere: only for what must reach it while
        PostgreSQL cannot record it (the call-now advice of a life-threatening message we
        could not take in). The sender's own few retries, no sweeper after them: True if
        the platform took it. The caller keeps it from being sent twice."""
        return await self._sender.send(thread, text, delivery_id)

    def release(self, thread: Thread) -> None:
        ready = self._ready.pop((thread.request_id, *thread.key), None)
        if ready is not None:
            ready.set()

    async def _record(self, key: str, thread: Thread, text: str, names: bool = False) -> None:
        """Pending in PostgreSQL first (raises if it cannot be), then queued to be sent. A
        text that `names` a helper is recorded sealed (never in the clear)."""
        sealed = None
        if names and self._keys is not None:
            sealed = self._keys.seal(text.encode(), _post_aad(key))
        post = threads.Pending(key, thread, text, str(uuid.uuid4()), sealed)
        if await threads.add_pending(await self._pool(), post, LEASE_S):
            self.enqueue(post)

    def _opened(self, post: threads.Pending) -> threads.Pending | None:
        """A post read back from PostgreSQL with its sealed text opened; None when the box
        does not open (its key retired): it is left to age out, never sent without it."""
        if post.sealed is None or post.text:
            return post
        try:
            if self._keys is None:
                raise Unreadable("no contact key configured")
            text = self._keys.open(post.sealed, _post_aad(post.key)).decode()
        except (Unreadable, UnicodeDecodeError):
            log.warning("a sealed group post does not open (key retired?); not sent")
            return None
        return dataclasses.replace(post, text=text)

    def enqueue(self, post: threads.Pending) -> None:
        group = post.thread.key
        queue = self._queues.get(group)
        if queue is None:
            queue = self._queues[group] = asyncio.Queue()
            self._tasks[group] = asyncio.create_task(
                self._drain(group, queue), name="group-replies"
            )
        queue.put_nowait(post)

    async def _drain(self, group: tuple[str, str], queue: asyncio.Queue[threads.Pending]) -> None:
        """Until the group's queue is empty; the next message starts a new task. (No await
        between finding it empty and forgetting it, so nothing queued in between is lost.)"""
        while True:
            try:
                post = queue.get_nowait()
            except asyncio.QueueEmpty:
                del self._queues[group], self._tasks[group]
                return
            try:
                await self._send(post)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad post never stops the group's queue; the sweeper retries
                log.exception("group message failed")

    async def _send(self, post: threads.Pending) -> None:
        pool = await self._pool()
        if not await threads.take(pool, post.key, post.lease, LEASE_S):
            return  # sent already, or another sender holds it now
        started = time.perf_counter()
        if await self._sender.send(post.thread, post.text, _delivery_id(post.key)):
            await threads.mark_sent(pool, post.key, post.lease)
            self._on_posted(post.thread, post.key, time.perf_counter() - started)
        else:
            await threads.retry_later(pool, post.key, post.lease, RETRY_BASE_S, RETRY_MAX_S)

    async def sweep(self) -> int:
        """Queue the posts whose send failed or was cut short, and are due again."""
        pool = await self._pool()
        await self._purge_if_due(pool)  # also while no event arrives
        due = await threads.take_overdue(
            pool,
            str(uuid.uuid4()),
            LEASE_S,
            MAX_EVENT_AGE.total_seconds(),
            SWEEP_BATCH,
        )
        opened = [p for p in map(self._opened, due) if p is not None]
        for post in opened:
            self.enqueue(post)
        return len(opened)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL away: the next round tries again
                log.warning("group post sweep failed (%s)", type(exc).__name__)

    async def _wait_ready(self, thread: Thread) -> None:
        ready = self._ready.get((thread.request_id, *thread.key))
        if ready is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), READY_WAIT_S)

    # ------------------------------------------------------------ events side
    async def _post(self, threads_: list[Thread], key: str, text: str, names: bool = False) -> None:
        for thread in threads_:
            await self._wait_ready(thread)
            await self._record(f"{key}:{thread.bot_id}:{thread.group_id}", thread, text, names)

    async def _flush_wave(self, request_id: str) -> None:
        """Keyed by the request's step: the first wave to reach a step is announced, a later
        one at that step (a decline's replacement offer) finds the key taken."""
        wave = self._waves.pop(request_id, None)
        if wave is not None:
            key = f"notified:{request_id}:{wave.step}"
            await self._post(wave.threads, key, texts.notified(wave.count))

    async def flush_all(self) -> None:
        for request_id in list(self._waves):
            await self._flush_wave(request_id)

    async def flush_settled(self) -> None:
        """Waves with no new offer for WAVE_SETTLE_S: one wave's offers are published
        together, but may reach us in two fetches."""
        now = time.monotonic()
        for request_id in [r for r, w in self._waves.items() if now - w.last_seen >= WAVE_SETTLE_S]:
            await self._flush_wave(request_id)

    async def handle(self, events: list[Event]) -> None:
        """Events in partition order; posts queued per group in that order."""
        horizon = self._clock() - MAX_EVENT_AGE
        wanted = [e for e in events if e.request_id and e.occurred_at > horizon]
        if wanted:
            await self._handle(wanted)
        await self.flush_settled()

    async def _handle(self, wanted: list[Event]) -> None:
        pool = await self._pool()
        await self._purge_if_due(pool)
        by_request = await threads.for_requests(pool, sorted({str(e.request_id) for e in wanted}))
        claims = {str(e.request_id) for e in wanted if isinstance(e.body, RequestClaimed)}
        # A cancellation stands down, in its own decision (one record, so this very batch),
        # the open offers and assignments it ends: only then were neighbours told not to come.
        stood_down = {
            str(e.request_id)
            for e in wanted
            if isinstance(e.body, OfferStoodDown | OffersStoodDown) and e.body.reason == "cancelled"
        }
        # A withdrawal that finds quiet hours begun pauses the ladder in its own decision
        # (the replacement it would send is not sent): the pause follows it in this batch.
        paused_by = {
            (str(e.request_id), e.caused_by): e.body.local_time
            for e in wanted
            if isinstance(e.body, RequestPaused)
        }
        told_paused: set[tuple[str, str]] = set()  # withdrawals that said the pause
        for event in wanted:
            request_id = str(event.request_id)
            asked = by_request.get(request_id)
            if not asked:
                continue
            if isinstance(event.body, RequestReferred):
                self._remember_referral(request_id, event.body.to, event.occurred_at)
            if isinstance(event.body, RequestPaused):
                self._remember_pause(request_id, event)
                if (request_id, event.caused_by) in told_paused:
                    continue  # its withdrawal, just before, said so and until when
            wave = self._waves.get(request_id)
            if isinstance(event.body, OfferSent | OffersSent):
                if wave is not None and wave.caused_by != event.caused_by:
                    await self._flush_wave(request_id)  # a later wave (the next ring)
                    wave = None
                if wave is None:
                    wave = self._waves[request_id] = _Wave(event.caused_by, asked)
                wave.count += len(event.body.offers) if isinstance(event.body, OffersSent) else 1
                wave.step = max(wave.step, event.body.step)
                wave.last_seen = time.monotonic()
                continue
            named = self._named(event)
            referred = (
                await self._referred_before(pool, event)
                if isinstance(event.body, HelperWithdrawn)
                else None
            )
            paused = (
                paused_by.get((request_id, event.caused_by)) or await self._paused_at(pool, event)
                if isinstance(event.body, HelperWithdrawn) and referred is None
                else None
            )
            if paused is not None:
                told_paused.add((request_id, event.caused_by))
            advised, accepted_before = (
                await self._history(pool, request_id)
                if _ends_or_nobody_asked(event.body) and referred is None and paused is None
                else (None, False)
            )
            text = texts.update_for(
                named,
                self._hotlines(event.community_id),
                # Staff's claim: the read model's (it came long before the expiry), or
                # one in this very batch of events, not recorded there yet.
                claimed=isinstance(event.body, RequestExpired)
                and (request_id in claims or await request_flags.claimed(pool, request_id)),
                whistle_people=self._called(event, event.body, asked)
                if isinstance(event.body, WhistleBlown)
                else None,
                # Offers still being folded (a wave not posted yet) are open ones, which the
                # cancellation stands down too.
                stood_down=request_id in stood_down or wave is not None
                if isinstance(event.body, RequestCancelled)
                else None,
                referred=referred,
                paused_until=paused,
                advised=advised,
                accepted_before=accepted_before,
                # The intake's flag on the asking thread: a requester known to have no
                # phone (a group bot's sender) is never promised a call.
                phone=not any(t.requester_phone is False for t in asked),
            )
            closing = isinstance(event.body, texts.CLOSING)
            if text is None and not closing:
                continue  # silent (a ring climbed on the way): the wave goes on
            await self._flush_wave(request_id)
            if text is not None:
                names = isinstance(named.body, HelperAssigned) and bool(named.body.group_name)
                await self._post(asked, event.event_id, text, names)
            if closing:
                await threads.close(pool, request_id)

    def _remember_referral(self, request_id: str, to: ReferralTarget, at: datetime) -> None:
        self._referrals[request_id] = (to, at)
        while len(self._referrals) > MAX_REFERRALS_KEPT:
            del self._referrals[next(iter(self._referrals))]  # the oldest first

    def _remember_pause(self, request_id: str, event: Event) -> None:
        body = event.body
        assert isinstance(body, RequestPaused)
        self._pauses.pop(request_id, None)  # the latest last, so the oldest goes first
        self._pauses[request_id] = Pause(event.occurred_at, body.until, body.local_time)
        while len(self._pauses) > MAX_REFERRALS_KEPT:
            del self._pauses[next(iter(self._pauses))]

    async def _paused_at(self, pool: asyncpg.Pool, event: Event) -> str | None:
        """The local HH:MM at which the quiet-hours pause the request's ladder was in when
        `event` happened ends; None if it was not paused then. The pause this loop read
        (the read model may not have it yet), else the event log's latest before `event`."""
        request_id = str(event.request_id)
        seen = self._pauses.get(request_id)
        if seen is None or seen.at > event.occurred_at:  # none read, or a later night's
            seen = await request_flags.pause_before(pool, request_id, event.occurred_at)
        if seen is None or not seen.at <= event.occurred_at < seen.until:
            return None
        return seen.local_time

    async def _referred_before(self, pool: asyncpg.Pool, event: Event) -> ReferralTarget | None:
        """Where the request was handed on before `event` (a withdrawal of a helper kept
        after a referral to 120/110/119), None if it was not: the referral this loop read
        (the read model may not have it yet), else the read model's. Only a referral made
        before `event`: a withdrawal replayed from before it was on a live request."""
        request_id = str(event.request_id)
        seen = self._referrals.get(request_id)
        if seen is None:
            row = await requests.status(pool, request_id)
            if row is None or row.get("referred_to") is None or row.get("closed_at") is None:
                return None
            seen = (ReferralTarget(row["referred_to"]), row["closed_at"])
        to, at = seen
        return to if at <= event.occurred_at else None

    async def _history(
        self, pool: asyncpg.Pool, request_id: str
    ) -> tuple[ReferralTarget | None, bool]:
        """From the read model (recorded long before an end or a late withdrawal): the
        number the requester was told to call (120/110/119), and whether a neighbour ever
        accepted. (None, False) when the request is not recorded."""
        row = await requests.status(pool, request_id)
        if row is None:
            return None, False
        number = row.get("emergency_advised")
        advised = ReferralTarget(number) if number in set(ReferralTarget) else None
        return advised, row.get("first_accept_at") is not None

    def _called(self, event: Event, body: WhistleBlown, asked: list[Thread]) -> int | None:
        """How many people the whistle called for the request, at the place it was raised:
        a contact narrowed to another grid, compound or building calls nobody for it
        (`_recipients` of the push engine passes them over). The place the intake recorded
        on the raising group's thread is the request's own, the one the push engine calls
        for (a group re-pointed since is elsewhere now); without it (threads from before
        migration 0419, co-reports only), the asking groups' live places refined by the
        label's building. With no place known, the whole list counts."""
        places = [t.place for t in asked if t.place is not None][:1]
        if not places:
            groups = [self._group_place(t.bot_id, t.group_id) for t in asked]
            places = [place_of_label(g, body.building_label) for g in groups if g is not None]
        if not places:
            return self._whistle_people(event.community_id)
        counts = [self._whistle_people(event.community_id, place=p) for p in places]
        return None if None in counts else max(c for c in counts if c is not None)

    async def _purge_if_due(self, pool: asyncpg.Pool) -> None:
        """Old threads and posts go (`threads.purge`), at most every PURGE_EVERY_S."""
        if time.monotonic() - self._last_purge > PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            await threads.purge(pool, utcnow())

    def _named(self, event: Event) -> Event:
        """An assignment with the opted-in helper's name opened, in memory only."""
        body = event.body
        if not isinstance(body, HelperAssigned) or body.sealed_group_name is None:
            return event
        name = group_name(self._keys, body) if self._keys is not None else None
        named = body.model_copy(update={"group_name": name, "sealed_group_name": None})
        return event.model_copy(update={"body": named})

    async def consume_forever(self, settings: Settings) -> None:
        """The events consumer, with the sweeper beside it (both only where platform bots
        are configured, the only ones with group posts)."""
        sweeper = asyncio.create_task(self.sweep_forever(), name="group-posts-sweeper")
        try:
            await self._consume_forever(settings)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def _consume_forever(self, settings: Settings) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                settings.events_topic,
                **client_options(settings),
                group_id=group_replies_group(settings),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError, asyncpg.PostgresError) as exc:
                log.warning("group-replies consumer failed (%s); restarting", type(exc).__name__)
                await asyncio.sleep(1)
            finally:
                # Open waves are rebuilt from the replay of their uncommitted offers.
                self._waves.clear()
                await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        """Offsets are committed only once every post of the events read is recorded: when
        no wave is being folded (or, after COMMIT_WAIT_S, with open waves posted as is)."""
        uncommitted_since: float | None = None
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            events = [e for part in batches.values() for e in _decoded(part)]
            await self.handle(events)  # also when empty: settled waves go out
            if events and uncommitted_since is None:
                uncommitted_since = time.monotonic()
            if uncommitted_since is None:
                continue
            if self._waves and time.monotonic() - uncommitted_since < COMMIT_WAIT_S:
                continue
            await self.flush_all()
            with contextlib.suppress(CommitFailedError):
                await consumer.commit()
            uncommitted_since = None

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._queues.clear()


def whistle_people(
    community_id: str,
    registry: EndpointRegistry,
    owner: Callable[[str], str | None],
    contacts: Sequence[WhistleRecipient],
    place: PlacePath | None = None,
) -> int:
    """How many people `community_id`'s whistle calls for a request at `place`, as the push
    engine finds them (`DeliveryPlanner._recipients`): endpoints of `registry` named by the
    convention and those of the community's configured `contacts` whose area covers the
    place (all of them when `place` is None), each only where the endpoint exists and may
    carry the community's messages (`owner`: the community that owns an endpoint); the
    community's group robot is no person. The API passes the live configuration's
    (ConfigView.endpoints, .endpoint_owner, .whistle_recipients)."""

    def reachable(endpoint: str) -> bool:
        return endpoint in registry and serves(endpoint, owner(endpoint), community_id)

    found = [
        (r.recipient_id, r.role, r.endpoint)
        for r in recipients.whistle_recipients((e.name for e in registry), community_id)
    ]
    found += [
        (f"{c.role}.{c.name}", str(c.role), c.endpoint)
        for c in contacts
        if place is None or c.covers(place.grid_id, place.compound_id, place.building_id)
    ]
    return len({who for who, role, endpoint in found if role != "group" and reachable(endpoint)})


def _ends_or_nobody_asked(body: object) -> bool:
    """An event whose group text repeats the call-now line or says who accepted before:
    the end of the lifetime (expired, or closed by the system), a withdrawal whose
    re-wave asked nobody (`HelperWithdrawn.offers_sent` 0)."""
    if isinstance(body, HelperWithdrawn):
        return body.offers_sent == 0
    if isinstance(body, RequestResolved):
        return body.by is Party.SYSTEM
    return isinstance(body, RequestExpired)


def _decoded(records: list[object]) -> list[Event]:
    out = []
    for r in records:
        try:
            # Events this release cannot read are the record agent's to dead-letter; the
            # others of their decision are still news.
            out += decode_record(r.value).events  # type: ignore[attr-defined]
        except (ValidationError, ValueError):
            continue  # the record agent dead-letters garbage; here it is just not news
    return out


def _post_aad(key: str) -> bytes:
    """A sealed post's box opens only as the text of its own post."""
    return f"group-post\n{key}".encode()


def _delivery_id(key: str) -> str:
    """Header-safe and short: the post key may hold platform ids."""
    return "grp_" + hashlib.sha256(key.encode()).hexdigest()[:32]
