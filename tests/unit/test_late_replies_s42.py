"""A decline, a withdrawal, staff not reached, a repeated report or a team called, read from a
backlog, is decided when the worker reads it, and what follows it about its request stays
behind it (session 42).

Before: session 41 sent a request's submit again through Kafka at the agent's clock
(`reissued_at`) and decided the copy; every other command was decided at its sender's stamp.
A decline the worker read 20 minutes late (down, or behind) made its replacement offer as of
the press: its 10 minutes were up before it was pushed, the timer's next tick expired it and
charged its helper "no answer". Now every command whose decision makes offers or starts a
wait is decided from its copy (`streams/late_commands.py` `FROM_A_COPY`), and while a copy
about a request is queued beyond the record read, every command about that request is sent
again too, behind it: a cancellation queued behind the decline is not decided before the
decline's copy. Where the last copy about each request went is kept with the tables
(`streams/state_store.py` `COPY_SUFFIX`), so a restart keeps the order too.

The real agent (`handle_group`, alone or in groups), the real deadline timer, Kafka's
commands partition in memory (`Log`: the API's records and the agent's copies, read in
order), the tables in memory, the worker's clock set by the test."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    CommandBody,
    DeclineOffer,
    ReportDeliveryFailure,
    ReportRepeated,
    ReportStaffNotReached,
    SubmitRequest,
    UpsertHelper,
    WithdrawHelper,
    deadline_command,
)
from schemas.event_batch import decode_record
from schemas.records import OfferStatus, RequestState
from schemas.staff_actions import CallTeam, ClaimRequest
from schemas.vocab import Party, Skill, Urgency
from streams.deadline_timer import DeadlineTimer
from streams.dispatch_agent import DispatchAgent
from streams.late_commands import reissue_of
from streams.state_store import COPY_SUFFIX, WorkerState, _owned, encode_copy_mark
from tests.unit.conftest import REFERENCE_PLANS, T0, World
from tests.unit.test_dispatch_groups import FakeEvent, FakeEvents, agent, runtime
from tests.unit.test_send_failure_not_dead_lettered_s37 import no_exit

__all__ = ["no_exit"]  # os._exit raising (autouse): an exit is seen, not taken

HELPERS = ("h0", "h1", "h2", "h3", "h4")  # one building: the first rung asks four of them
TTL = timedelta(seconds=REFERENCE_PLANS[Urgency.CRITICAL].offer_ttl_s)  # 10 min
BACK = T0 + timedelta(minutes=20)  # the worker back, past the offers' whole time
MARK = ("req-1" + COPY_SUFFIX).encode()


class Log:
    """One partition of the commands topic: the API's records and the agent's copies, each
    acknowledged with its offset, as Kafka's acknowledgement names it."""

    def __init__(self) -> None:
        self.values: list[bytes] = []
        self.read = 0  # the next offset the agent reads

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[Any]:
        self.values.append(value)
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack.set_result(SimpleNamespace(partition=0, offset=len(self.values) - 1))
        return ack

    def post(self, command: Command) -> int:
        self.values.append(command.model_dump_json().encode())
        return len(self.values) - 1

    def at(self, offset: int) -> Command:
        return Command.model_validate_json(self.values[offset])

    async def step(self, dispatch: DispatchAgent) -> None:
        """The agent reads the next record."""
        assert await dispatch.handle_group([FakeEvent(self.read, self.values[self.read])])
        self.read += 1

    async def read_all(self, dispatch: DispatchAgent, group: bool) -> None:
        """The agent reads to the end, copies included: each record alone, or what is
        waiting as one group."""
        while self.read < len(self.values):
            end = len(self.values) if group else self.read + 1
            batch = [FakeEvent(o, self.values[o]) for o in range(self.read, end)]
            self.read = end
            assert await dispatch.handle_group(batch)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return 0.0  # the prune never runs (`PRUNE_EVERY_S` after 0)


class Worker:
    """The worker's dispatch agent and timer on one commands partition, tables in memory."""

    def __init__(self, tmp_path: Path) -> None:
        self.events = FakeEvents()
        self.rt = runtime(tmp_path, self.events)
        self.rt.plans = REFERENCE_PLANS
        self.rt.reload_state()
        self.clock = Clock(T0)
        self.rt.clock = self.clock
        self.log = Log()
        self.rt.commands = self.log
        self.dispatch, self.sink = agent(self.rt)
        self.world = World()  # the senders' commands, stamped at `world.now`

    def post(self, body: CommandBody, command_id: str | None = None) -> int:
        return self.log.post(self.world.command(body, command_id))

    async def read(self, group: bool = False) -> None:
        await self.log.read_all(self.dispatch, group)

    def restart(self) -> None:
        """A new process: the state from the tables, a new agent (reading on from where the
        log's committed offset is, `log.read`)."""
        self.rt.reload_state()
        self.dispatch, self.sink = agent(self.rt)

    def request(self) -> RequestState:
        return self.rt.state.core.requests["req-1"]

    def offer(self, helper_id: str) -> Any:
        return next(o for o in self.request().offers if o.helper_id == helper_id)

    def decline(self, helper_id: str) -> DeclineOffer:
        return DeclineOffer(
            request_id="req-1", offer_id=self.offer(helper_id).offer_id, helper_id=helper_id
        )

    def types(self) -> list[str]:
        """The types of the events sent, in order."""
        return [e.body.type for value in self.events.sent for e in decode_record(value).events]


async def _asked(tmp_path: Path) -> tuple[Worker, str, str]:
    """A critical request decided on time at T0, four of the five asked (the building
    rung's wave): one of them (who will say no) and the one not asked yet."""
    w = Worker(tmp_path)
    for hid in HELPERS:
        profile = w.world.helper(hid, building="3", skills=[Skill.DRIVING])
        w.post(UpsertHelper(profile=profile), f"upsert-{hid}")
    w.post(SubmitRequest(spec=w.world.spec(urgency=Urgency.CRITICAL)), "intake-1")
    await w.read()
    offered = sorted(o.helper_id for o in w.request().offers)
    assert len(offered) == 4 and all(o.sent_at == T0 for o in w.request().offers), offered
    [spare] = set(HELPERS) - set(offered)
    return w, offered[0], spare


@pytest.mark.parametrize("group", [False, True])
async def test_a_decline_read_20_minutes_late_gets_a_replacement_with_its_whole_time(
    tmp_path: Path, group: bool
) -> None:
    w, no, spare = await _asked(tmp_path)
    w.world.now = T0 + timedelta(minutes=1)  # one says no; the worker is down
    w.post(w.decline(no), "decline-1")
    w.clock.at = BACK
    await w.read(group)
    # The timer, back with the worker: the first rung's offers had their whole time.
    await DeadlineTimer(w.rt).fire()
    await w.read(group)
    replacement = w.offer(spare)
    assert (replacement.sent_at, replacement.expires_at) == (BACK, BACK + TTL)
    assert replacement.status is OfferStatus.OPEN  # before: expired at the tick, as sent
    assert w.rt.state.core.helpers[spare].load.no_answer_total == 0
    assert w.offer(no).status is OfferStatus.DECLINED
    assert not w.sink.letters


@pytest.mark.parametrize("group", [False, True])
async def test_a_cancellation_queued_behind_a_late_decline_follows_its_copy(
    tmp_path: Path, group: bool
) -> None:
    """Before the marks: the cancel, not copied, was decided before the decline's copy,
    which then found the request closed (rejected: `offer_not_open`)."""
    w, no, _ = await _asked(tmp_path)
    w.world.now = T0 + timedelta(minutes=1)
    w.post(w.decline(no), "decline-1")
    w.post(CancelRequest(request_id="req-1", by=Party.REQUESTER), "cancel-1")
    w.clock.at = BACK
    first = len(w.events.sent)
    await w.read(group)
    copies = [w.log.at(o) for o in range(len(w.log.values) - 2, len(w.log.values))]
    assert [(c.command_id, c.reissued_at) for c in copies] == [
        ("decline-1", BACK),
        ("cancel-1", BACK),
    ]
    assert w.request().status.value == "cancelled"
    types = w.types()[first:]
    assert "command_rejected" not in types, types
    assert types.index("offer_declined") < types.index("request_cancelled"), types
    assert w.rt.requests_table[MARK] == encode_copy_mark((0, len(w.log.values) - 1))


async def test_the_mark_is_kept_with_the_tables_across_a_restart(tmp_path: Path) -> None:
    """The decline read and copied, its original acknowledged, then a restart: the cancel
    behind it, read by the new process from the tables' state, still follows the copy.
    A command posted after the copies is decided as it is read."""
    w, no, _ = await _asked(tmp_path)
    w.world.now = T0 + timedelta(minutes=1)
    w.post(w.decline(no), "decline-1")
    w.post(CancelRequest(request_id="req-1", by=Party.REQUESTER), "cancel-1")
    w.clock.at = BACK
    # The decline alone, then the process ends (its original acknowledged: committed).
    decline_at = w.log.read
    assert await w.dispatch.handle_group([FakeEvent(decline_at, w.log.values[decline_at])])
    w.log.read = decline_at + 1
    copy_at = len(w.log.values) - 1
    assert w.rt.requests_table[MARK] == encode_copy_mark((0, copy_at))
    w.restart()
    assert w.rt.state.copies == {"req-1": (0, copy_at)}
    await w.read()
    assert w.request().status.value == "cancelled"
    assert "command_rejected" not in w.types()
    # Past the copies: an answer posted now is decided as read, not copied.
    after = w.post(AcceptOffer(request_id="req-1", offer_id="x", helper_id=no), "late-accept")
    await w.read()
    assert len(w.log.values) == after + 1


@pytest.mark.parametrize("early", [False, True])
@pytest.mark.parametrize("mark_kept", [False, True])
async def test_a_second_copy_of_a_decline_changes_nothing(
    tmp_path: Path, mark_kept: bool, early: bool
) -> None:
    """A crash between the copy's send and the original's acknowledgement (its mark written
    or not): the decline is read again after the restart and copied again. The first copy
    decided declines and asks another — when read (a record lies between the original and
    it), or (`early`, session 43) at its acknowledgement, directly behind the original,
    before the crash; the second yields no event and changes nothing."""
    w, no, spare = await _asked(tmp_path)
    w.world.now = T0 + timedelta(minutes=1)
    decline_at = w.post(w.decline(no), "decline-1")
    if not early:  # a helper elsewhere, not asked for this trip: the copy lands behind it
        w.post(UpsertHelper(profile=w.world.helper("far", building="9")), "upsert-far")
    w.clock.at = BACK
    before = w.rt.stats.decided_at_ack
    assert await w.dispatch.handle_group([FakeEvent(decline_at, w.log.values[decline_at])])
    copy_at = len(w.log.values) - 1
    assert (copy_at == decline_at + 1) is early
    assert w.rt.stats.decided_at_ack - before == int(early)
    if not mark_kept:
        del w.rt.requests_table[MARK]
    w.restart()  # the original not acknowledged: read again
    w.clock.at = BACK + timedelta(seconds=5)
    await w.log.step(w.dispatch)  # the original again: copied again
    ids = [w.log.at(o).command_id for o in (copy_at, len(w.log.values) - 1)]
    assert ids == ["decline-1", "decline-1"]
    while w.log.read <= copy_at:  # the first copy: declined, another asked (or already)
        await w.log.step(w.dispatch)
    decided, sent = w.request(), len(w.events.sent)
    assert w.offer(spare).sent_at == BACK and w.offer(no).status is OfferStatus.DECLINED
    await w.log.step(w.dispatch)  # the second copy
    assert w.request() == decided and len(w.events.sent) == sent  # nothing changed
    assert w.types().count("offer_declined") == 1
    assert not w.sink.letters


def test_which_commands_are_decided_from_a_copy() -> None:
    w = World()
    held = {"req-1"}.__contains__
    nowhere: set[str] = set()
    bodies: list[CommandBody] = [
        DeclineOffer(request_id="req-1", offer_id="o", helper_id="h"),
        ReportDeliveryFailure(request_id="req-1", offer_id="o", helper_id="h", reason="gone"),
        WithdrawHelper(request_id="req-1", helper_id="h"),
        ReportRepeated(request_id="req-1"),
        CallTeam(request_id="req-1", team_id="t", by="li.wei"),
    ]
    for body in bodies:  # they make offers or start a wait: from a copy, on time or not
        copy = reissue_of(w.command(body), wall=BACK, known=held)
        assert copy is not None and copy.reissued_at == BACK, body
    # The others, about a request held and nothing queued about it: decided as read.
    for body in [
        AcceptOffer(request_id="req-1", offer_id="o", helper_id="h"),
        CancelRequest(request_id="req-1", by=Party.REQUESTER),
        ClaimRequest(request_id="req-1", by="li.wei"),
    ]:
        assert reissue_of(w.command(body), wall=BACK, known=held) is None, body
        # A copy about the request queued beyond the record: behind it.
        pending = reissue_of(w.command(body), wall=BACK, known=held, pending=held)
        assert pending is not None, body
    fire = deadline_command(request_id="req-1", community_id="c", step=0, due_at=T0, sent_at=BACK)
    assert reissue_of(fire, wall=BACK, known=held) is None  # issued at the timer's clock
    assert reissue_of(fire, wall=BACK, known=held, pending=held) is not None  # kept in order
    # A copy is decided, whatever is queued.
    copy = reissue_of(w.command(bodies[0]), wall=BACK, known=held)
    assert copy is not None
    assert reissue_of(copy, wall=BACK, known=held, pending=held) is None
    assert reissue_of(copy, wall=BACK, known=nowhere.__contains__) is None


def test_staff_not_reached_is_decided_from_a_copy() -> None:
    w = World()
    body = ReportStaffNotReached(
        request_id="req-1",
        rung="whistle",
        step=2,
        called_at=T0,
        recipients=1,
        reason="every push failed",
    )
    copy = reissue_of(w.command(body), wall=BACK, known={"req-1"}.__contains__)
    assert copy is not None and copy.reissued_at == BACK


def test_the_marks_are_read_back_with_the_state_and_left_out_by_an_earlier_release() -> None:
    """Each mark of the worker's partitions, beside the requests; another's left out. A
    worker of an earlier release (a rollback) reads the table as requests only: a mark is
    another partition's record to it, never a request it fails to read."""
    other = (b"req-9" + COPY_SUFFIX.encode(), encode_copy_mark((3, 7)))
    items = [(MARK, encode_copy_mark((0, 41))), other]
    state = WorkerState.rebuild(items, [], frozenset({0}), 1)
    assert state.copies == {"req-1": (0, 41)} and not state.core.requests
    assert _owned(items, frozenset(range(8)), RequestState) == ([], 2)  # the old reading
