"""A poison deadline (streams/deadline_timer.py): a request whose deadline command Kafka
acknowledges but the core refuses every time (decide() raises: each one dead-lettered by the
dispatch agent) is not sent again forever. After a bounded number of acknowledged sends, with
backoff, the timer dead-letters the deadline once with its reason (counted in the dead
letters' metric) and leaves the request as it is: open, in the state, for staff.
A deadline that takes effect is forgotten; a broker that refuses sends is retried without
bound and does not count towards giving up."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from faust.exceptions import ProducerSendError

from dispatcher.core.deadlines import DeadlineHeap, HeapItem
from schemas.dead_letter import DeadLetter
from streams.deadline_timer import UNAPPLIED_SENDS, DeadlineTimer
from streams.runtime import Stats

T0 = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
TOPIC = "dispatch.commands"


class Commands:
    """The commands topic: acknowledges (with the record's position) unless `refusing`;
    the dispatch agent reads each record at once (`read`) unless `behind`."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.refusing = False
        self.behind = False
        self.read: dict[int, int] = {}  # WorkerRuntime.commands_read

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[Any]:
        if self.refusing:
            raise ProducerSendError("Error while sending: KafkaTimeoutError()")
        self.sent.append(json.loads(value))
        if not self.behind:
            self.read[3] = 100 + len(self.sent)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(SimpleNamespace(topic=TOPIC, partition=3, offset=100 + len(self.sent)))
        return done


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def send(self, key: str | None, value: bytes) -> asyncio.Future[None]:
        """As Faust's: the letter's future (acknowledged at once)."""
        self.sent.append(DeadLetter.model_validate_json(value))
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


class World:
    """A worker's runtime as the timer sees it, with a clock the test moves."""

    def __init__(self, requests: dict[str, Any]) -> None:
        self.now = T0
        self.requests = requests
        self.heap = DeadlineHeap(
            [
                HeapItem(r.next_deadline, rid, r.deadline_step, r.next_deadline, "c1")
                for rid, r in requests.items()
            ]
        )
        self.commands = Commands()
        self.letters = Letters()
        self.stats = Stats()
        clock = SimpleNamespace(now=lambda: self.now)
        self.rt: Any = SimpleNamespace(
            state_ready=lambda: True,
            clock=clock,
            state=SimpleNamespace(
                heap=self.heap,
                core=SimpleNamespace(requests=requests),
                pop_due=lambda now: self.heap.pop_due(now, requests),
                copies={},
            ),
            commands=self.commands,
            dead_letters=self.letters,
            stats=self.stats,
            trace=SimpleNamespace(enabled=False),
            settings=SimpleNamespace(topic_partitions=8, commands_topic=TOPIC),
            owned_since={},
            commands_read=self.commands.read,
        )
        self.timer = DeadlineTimer(self.rt)

    def run(self, hours: float) -> None:
        """Tick at every moment something is due, for `hours`."""
        end = T0 + timedelta(hours=hours)

        async def go() -> None:
            while self.heap.items and self.heap.items[0].fire_at <= end:
                self.now = max(self.now, self.heap.items[0].fire_at)
                await self.timer.fire()

        asyncio.run(go())


def stuck() -> Any:
    """A request whose deadline never moves: each of its deadline commands was refused."""
    return SimpleNamespace(deadline_step=2, next_deadline=T0)


def test_a_deadline_the_core_refuses_is_sent_a_bounded_number_of_times_then_lettered() -> None:
    world = World({"r-poison": stuck()})
    world.run(hours=24)

    assert len(world.commands.sent) == UNAPPLIED_SENDS  # not 1,440 (one a minute for a day)
    assert {c["body"]["request_id"] for c in world.commands.sent} == {"r-poison"}
    assert len({c["command_id"] for c in world.commands.sent}) == 1  # the same command
    [letter] = world.letters.sent
    assert world.stats.dead_letters == 1  # the dead letters' metric counts it
    assert letter.stage == "process" and letter.source_topic == TOPIC
    assert (letter.partition, letter.offset) == (3, 100 + UNAPPLIED_SENDS)  # the last send
    assert "r-poison" in letter.reason and f"{UNAPPLIED_SENDS} acknowledged" in letter.reason
    command = json.loads(base64.b64decode(letter.payload_b64))
    assert command["body"] == {"type": "deadline_reached", "request_id": "r-poison", "step": 2}
    # Nothing left to fire, and the request is untouched: still open, for staff to see.
    assert not world.heap.items
    assert world.requests["r-poison"].next_deadline == T0


def test_the_checks_back_off() -> None:
    world = World({"r-poison": stuck()})
    sent_at: list[datetime] = []
    original = world.commands.send

    async def timed(key: bytes, value: bytes) -> asyncio.Future[Any]:
        sent_at.append(world.now)
        return await original(key, value)

    world.commands.send = timed  # type: ignore[method-assign]
    world.run(hours=24)
    gaps = [(b - a).total_seconds() / 60 for a, b in itertools.pairwise(sent_at)]
    assert gaps == [1, 2, 4, 8]


def test_a_deadline_that_takes_effect_is_never_given_up() -> None:
    """The usual case: the command is applied, the request's next deadline moves on."""
    request = SimpleNamespace(deadline_step=0, next_deadline=T0)
    world = World({"r-ok": request})

    async def applied(key: bytes, value: bytes) -> asyncio.Future[Any]:
        sent = await Commands.send(world.commands, key, value)
        request.deadline_step += 1  # the dispatch agent applied it: the next rung
        request.next_deadline = world.now + timedelta(minutes=3)
        world.heap.note([SimpleNamespace(**vars(request), request_id="r-ok", community_id="c1")])
        return sent

    world.commands.send = applied  # type: ignore[method-assign]
    world.run(hours=2)
    assert len(world.commands.sent) > 3 * UNAPPLIED_SENDS  # one per rung, every time
    assert not world.letters.sent
    assert len(world.timer._acknowledged) <= 2  # the applied ones are forgotten


def test_a_broker_that_refuses_is_retried_and_does_not_count() -> None:
    world = World({"r-poison": stuck()})
    world.commands.refusing = True
    world.run(hours=3)  # three hours of refusals: retried all along, nothing given up
    assert not world.letters.sent and world.heap.items
    world.commands.refusing = False
    world.run(hours=24)
    assert len(world.commands.sent) == UNAPPLIED_SENDS
    assert len(world.letters.sent) == 1


def test_a_deadline_waiting_behind_a_backlog_is_not_taken_for_refused() -> None:
    """Review 32 (chaos run): a worker behind by 37,000 commands dead-lettered a deadline
    whose command it applied six seconds later. Sends past what the dispatch agent has read
    are waited for (checked, not sent again); once it has read them and the deadline is
    still current, the core refused them: lettered then."""
    world = World({"r-late": stuck()})
    world.commands.behind = True
    world.run(hours=5)
    assert len(world.commands.sent) == UNAPPLIED_SENDS and not world.letters.sent
    assert world.heap.items  # still checked, a minute at a time
    world.commands.read[3] = 100 + UNAPPLIED_SENDS - 1  # not yet the last one
    world.run(hours=6)
    assert not world.letters.sent
    world.commands.read[3] = 100 + UNAPPLIED_SENDS  # read, decided, still current: refused
    world.run(hours=7)
    assert len(world.letters.sent) == 1 and len(world.commands.sent) == UNAPPLIED_SENDS
