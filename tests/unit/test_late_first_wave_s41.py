"""A request's submit the worker reads late is decided when it is read (session 41).

Before: the dispatch agent decided every command at `min(issued_at, wall)`, the API's stamp,
so a submit read from a backlog (the worker down, or behind) sent its first offers as of the
intake: a critical request read 15 minutes later had offers whose 10 minutes had run out
before they were pushed, its first rung already due; the timer's next tick expired them
(each helper charged "no answer" for an offer they never had time for) and climbed. Now the
agent sends every submit again through Kafka, with the same id and its clock
(`schemas.commands.reissued`, `streams/late_commands.py`), and decides that copy at the
copy's time when it reads it: the time is in the record, so a replay decides it alike. The
request still opens at the intake (its time to first offer counts from there).

The worker's way is run with its real parts: the agent's choice (`DispatchAgent._late`; an
agent without it decides the record as read), its time for a command (`DispatchAgent._now`),
the real deadline heap and timer (`DeadlineTimer.fire`), and the agent itself
(`handle_group`) with Kafka in memory."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from prometheus_client import CollectorRegistry

from dispatcher.core import Decision
from dispatcher.core.deadlines import DeadlineHeap
from dispatcher.ops.event_metrics import EventMetrics
from dispatcher.ops.metric_defs import DispatchMetrics
from schemas.commands import (
    CancelRequest,
    Command,
    CommandBody,
    SubmitRequest,
    UpsertHelper,
    deadline_command,
    reissued,
)
from schemas.records import OfferStatus
from schemas.vocab import Party, Skill, Urgency
from streams.deadline_timer import DeadlineTimer
from streams.dispatch_agent import DispatchAgent
from streams.late_commands import reissue_of
from tests.support.worker_clock import CommandsTopic, runtime_at
from tests.unit.conftest import T0, World
from tests.unit.test_dispatch_groups import FakeEvent, FakeEvents, agent, helper_keys, runtime
from tests.unit.test_send_failure_not_dead_lettered_s37 import Exited, no_exit, refused

__all__ = ["no_exit"]  # os._exit raising Exited (autouse): an exit is seen, not taken

TTFO = "dispatch_time_to_first_offer_seconds"


class Worker(World):
    """Records read by the dispatch agent at a wall time; deadlines on the real heap."""

    def __init__(self) -> None:
        super().__init__()
        self.heap = DeadlineHeap()
        self.topic = CommandsTopic()

    def run(self, body: CommandBody | Command, command_id: str | None = None) -> Decision:
        decision = super().run(body, command_id)
        self.heap.note(decision.requests.values())
        return decision

    def _runtime(self, wall: datetime) -> Any:
        requests = self.state.requests
        return runtime_at(wall, self.heap, requests, self.topic, lambda _s: None)

    def read(self, command: Command, wall: datetime) -> Decision | None:
        """The agent reads `command`'s record at `wall`: decides it, or sends it again."""
        agent = DispatchAgent(self._runtime(wall), sink=None)  # type: ignore[arg-type]
        late = getattr(DispatchAgent, "_late", None)  # an agent before session 41: none
        copy = None if late is None else late(agent, command)
        if copy is not None:
            asyncio.run(agent._send_again([copy]))
            return None
        self.now = agent._now(command)
        return self.run(command)

    def read_queued(self, wall: datetime) -> None:
        """The agent reads what was sent behind the backlog (the copies), at `wall`."""
        for command in self.topic.taken():
            self.read(command, wall)

    def tick(self, wall: datetime) -> None:
        """The deadline timer at `wall`, each deadline it sent read by the agent."""
        asyncio.run(DeadlineTimer(self._runtime(wall)).fire())
        self.read_queued(wall)


def _backlog(minutes: float = 15) -> tuple[Worker, Command, datetime]:
    """A critical request posted while the worker was down, read `minutes` later."""
    w = Worker()
    for i, building in enumerate(["3", "3", "9"]):
        w.helper(f"h{i}", building=building, skills=[Skill.DRIVING])
    submit = w.command(SubmitRequest(spec=w.spec(urgency=Urgency.CRITICAL)), "intake-1")
    return w, submit, T0 + timedelta(minutes=minutes)


def test_a_submit_read_15_minutes_late_gives_its_first_offers_their_whole_time() -> None:
    w, submit, back = _backlog()
    w.read(submit, back)  # the backlog: sent again, not decided (before: decided at T0)
    w.read_queued(back)  # its copy, read behind the backlog
    r = w.request()
    plan = r.plan
    first = [o for o in r.offers if o.step == 0]
    assert first, "nobody asked"
    ttl = timedelta(seconds=plan.offer_ttl_s)
    assert all(o.sent_at == back and o.expires_at == back + ttl for o in first), first
    assert r.step_started_at == back  # the first rung runs from now, its whole wait
    assert r.next_deadline == back + timedelta(seconds=plan.steps[0].wait_s)
    assert r.created_at == T0  # opened at the intake
    # The timer, back with the worker: nothing due, nobody charged "no answer".
    w.tick(back)
    r = w.request()
    assert r.step == 0 and all(o.status is OfferStatus.OPEN for o in first)
    assert all(w.state.helpers[f"h{i}"].load.no_answer_total == 0 for i in range(3))
    assert not [e for e in w.events if e.body.type == "offer_expired"]


def test_the_ladder_climbs_after_the_first_rungs_own_wait_and_charges_only_after_the_ttl() -> None:
    w, submit, back = _backlog()
    w.read(submit, back)
    w.read_queued(back)
    r = w.request()
    rung = r.next_deadline
    assert rung is not None
    w.tick(rung)
    assert w.request().step == 1  # on schedule from the worker's return
    expiry = back + timedelta(seconds=r.plan.offer_ttl_s)
    w.tick(expiry - timedelta(seconds=1))
    assert all(h.load.no_answer_total == 0 for h in w.state.helpers.values())
    for _ in range(5):  # the rungs between, then the first offers' own end
        w.tick(expiry)
    first_helpers = {o.helper_id for o in r.offers if o.step == 0}
    charged = {hid for hid, h in w.state.helpers.items() if h.load.no_answer_total}
    assert first_helpers <= charged  # unanswered for their whole time: that counts


def test_time_to_first_offer_still_counts_from_the_intake() -> None:
    w, submit, back = _backlog()
    w.read(submit, back)
    w.read_queued(back)
    opened = next(e for e in w.events if e.body.type == "request_opened")
    offered = next(e for e in w.events if e.body.type in ("offer_sent", "offers_sent"))
    assert (opened.occurred_at, offered.occurred_at) == (T0, back)
    registry = CollectorRegistry()
    EventMetrics(DispatchMetrics.create(registry)).observe_all(w.events)
    total = sum(s.value for m in registry.collect() for s in m.samples if s.name == TTFO + "_sum")
    assert total == (back - T0).total_seconds()  # the 15 minutes the worker was away


def test_a_cancellation_queued_behind_a_late_submit_follows_its_copy() -> None:
    """The resident cancelled while the worker was down: the cancel must not be decided on a
    state without the request (rejected, the request then dispatched anyway)."""
    w, submit, back = _backlog()
    cancel = w.command(CancelRequest(request_id="req-1", by=Party.REQUESTER), "cancel-1")
    w.read(submit, back)
    w.read(cancel, back)  # about a request not open: sent again too, behind the submit's copy
    copies = w.topic.taken()
    assert [c.command_id for c in copies] == ["intake-1", "cancel-1"]
    for c in copies:
        w.read(c, back)
    assert w.request().status.value == "cancelled"
    assert not [e for e in w.events if e.body.type == "command_rejected"]


def test_a_submit_read_at_once_is_decided_from_its_copy_too() -> None:
    """Whether a record is late is the wall clock's verdict: a submit decided on time just
    before a crash (its events out, its tables not) is read again after the restart, later,
    and must yield the same events. So every submit goes through its copy."""
    w, submit, _ = _backlog()
    read_at = T0 + timedelta(seconds=1)
    w.read(submit, read_at)
    assert "req-1" not in w.state.requests
    [copy] = w.topic.taken()
    w.read(copy, read_at + timedelta(seconds=1))
    r = w.request()
    assert r.step_started_at == read_at and r.created_at == T0
    # Read again after a restart an hour later: the same time, the same decision.
    replay = Worker()
    for i, building in enumerate(["3", "3", "9"]):
        replay.helper(f"h{i}", building=building, skills=[Skill.DRIVING])
    replay.read(copy, read_at + timedelta(hours=1))
    assert replay.request() == r


def test_which_commands_are_sent_again() -> None:
    w, submit, back = _backlog()
    none: set[str] = set()
    copy = reissue_of(submit, wall=back, known=none.__contains__)
    assert copy is not None
    assert (copy.command_id, copy.issued_at, copy.reissued_at) == ("intake-1", T0, back)
    assert copy.decided_from() == back and submit.decided_from() == T0
    # Once only: a copy is decided, however late it is read (a long backlog).
    assert reissue_of(copy, wall=back + timedelta(hours=1), known=none.__contains__) is None
    # A submit of a request already open (a bot's retry, a second copy): decided, a no-op.
    assert reissue_of(submit, wall=back, known={"req-1"}.__contains__) is None
    # About a request the state holds: decided at once, however late.
    cancel = w.command(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    assert reissue_of(cancel, wall=back, known={"req-1"}.__contains__) is None
    assert reissue_of(cancel, wall=T0, known=none.__contains__) is not None
    # The timer's deadlines carry their own send time.
    fire = deadline_command(request_id="x", community_id="c", step=0, due_at=T0, sent_at=back)
    assert reissue_of(fire, wall=back, known=none.__contains__) is None


def test_the_copy_is_the_same_command_on_the_wire_and_old_records_keep_their_bytes() -> None:
    _, submit, back = _backlog()
    assert "reissued_at" not in submit.model_dump_json()
    copy = reissued(submit, back)
    again = Command.model_validate_json(copy.model_dump_json())
    assert again == copy and again.reissued_at == back


@pytest.mark.parametrize("group", [False, True])
async def test_the_agent_sends_a_late_submit_and_what_follows_it_again_in_order(
    tmp_path: Path, group: bool
) -> None:
    """The real agent (`handle_group`, alone or in a group), Kafka in memory: the late
    submit and the cancel behind it are not decided but sent again, in order, acknowledged
    before their records are; nothing is emitted. Their copies, read next, are decided."""
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    rt.commands = CommandsTopic()
    dispatch, sink = agent(rt)
    w, submit, _ = _backlog()  # stamped at T0 (2024), read at the system clock
    cancel = w.command(CancelRequest(request_id="req-1", by=Party.REQUESTER), "cancel-1")
    records = [FakeEvent(i, c.model_dump_json().encode()) for i, c in enumerate([submit, cancel])]
    if group:
        await dispatch.handle_group(records)
    else:
        for record in records:
            await dispatch.handle_group([record])
    assert not sink.letters and not events.sent  # nothing decided
    copies = rt.commands.taken()
    assert [(c.command_id, c.reissued_at is not None) for c in copies] == [
        ("intake-1", True),
        ("cancel-1", True),
    ]
    assert rt.stats.reissued == 2
    await dispatch.handle_group(
        [FakeEvent(2 + i, c.model_dump_json().encode()) for i, c in enumerate(copies)]
    )
    assert not sink.letters and not rt.commands.values
    request = rt.state.core.requests["req-1"]
    assert request.created_at == T0 and request.status.value == "cancelled"


def test_a_second_copy_of_a_submit_changes_nothing() -> None:
    """A crash between the copy's send and the original's acknowledgement: the original is
    read again after the restart and copied again, at another time. The first copy read
    opens the request and sends its first wave; the second, a submit of an open request,
    yields no event and leaves the request as it was."""
    w, submit, back = _backlog()
    assert w.read(submit, back) is None  # copy 1 sent; then the crash
    assert w.read(submit, back + timedelta(seconds=2)) is None  # read again: copy 2
    copies = w.topic.taken()
    assert [c.command_id for c in copies] == ["intake-1", "intake-1"]
    assert copies[0].reissued_at != copies[1].reissued_at
    first = w.read(copies[0], back + timedelta(seconds=3))
    assert first is not None
    types = [e.body.type for e in first.events]
    assert types.count("request_opened") == 1
    assert {"offer_sent", "offers_sent"} & set(types), types
    opened = w.request()
    second = w.read(copies[1], back + timedelta(seconds=4))
    assert second is not None
    assert (second.events, second.requests, second.helpers) == ((), {}, {})  # nothing changed
    assert w.request() == opened  # its offers and ladder from the first copy's time
    assert opened.step_started_at == copies[0].reissued_at


class RefusingCommands(CommandsTopic):
    """The commands topic refusing the records that hold `match`: `error()` on the send's
    future, or raised by the send itself (`at_send`: Faust's ProducerSendError when aiokafka
    refuses a record before queueing it)."""

    def __init__(self, error: Any, match: str, at_send: bool) -> None:
        super().__init__()
        self.error, self.match, self.at_send = error, match, at_send

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        if self.match.encode() not in value:
            return await super().send(key, value)
        if self.at_send:
            raise self.error()
        refused_: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refused_.set_exception(self.error())
        return refused_


def _two_submits(tmp_path: Path, commands: CommandsTopic) -> tuple[Any, Any, list[FakeEvent]]:
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    rt.commands = commands
    dispatch, sink = agent(rt)
    w, submit, _ = _backlog()
    other = w.command(SubmitRequest(spec=w.spec("req-2")), "intake-2")
    records = [FakeEvent(i, c.model_dump_json().encode()) for i, c in enumerate([submit, other])]
    return dispatch, sink, records


@pytest.mark.parametrize("group", [True, False])
@pytest.mark.parametrize("at_send", [False, True])
async def test_a_copy_kafka_refuses_every_time_dead_letters_its_command(
    tmp_path: Path, group: bool, at_send: bool
) -> None:
    """A copy too large for the commands topic is refused at every try: its command is
    dead-lettered with the reason, the other's copy goes out, the records are acknowledged
    and the partition goes on. Before, a group exited (75) on it, read it again after the
    restart and exited again: the worker restarting forever on that partition."""
    error = (lambda: refused(MessageSizeTooLargeError)) if at_send else MessageSizeTooLargeError
    commands = RefusingCommands(error, '"command_id":"intake-1"', at_send)
    dispatch, sink, records = _two_submits(tmp_path, commands)
    if group:
        assert await dispatch.handle_group(records)  # to be acknowledged
    else:
        for record in records:
            assert await dispatch.handle_group([record])
    [(offset, reason, stage)] = sink.letters
    assert (offset, stage) == (0, "process")
    assert "MessageSizeTooLargeError" in reason or "ProducerSendError" in reason, reason
    if group:
        assert reason.startswith("not sent again to be decided from its copy: ")
    assert [c.command_id for c in commands.taken()] == ["intake-2"]
    assert dispatch.rt.stats.reissued == 1


async def test_a_copy_kafka_may_yet_take_exits_to_read_the_group_again(tmp_path: Path) -> None:
    """The broker away (the send's timeout): nothing dead-lettered, nothing acknowledged;
    the worker exits 75 and reads the group again after the restart."""
    commands = RefusingCommands(KafkaTimeoutError, '"command_id":"intake-1"', False)
    dispatch, sink, records = _two_submits(tmp_path, commands)
    with pytest.raises(Exited) as exited:
        await dispatch.handle_group(records)
    assert exited.value.code == 75
    assert not sink.letters


class WatchingCommands(CommandsTopic):
    """The commands topic noting, at each send, how many of the `events` records sent so
    far Kafka had acknowledged."""

    def __init__(self, events: FakeEvents) -> None:
        super().__init__()
        self.events = events
        self.seen: list[tuple[int, int]] = []  # (event records sent, of them acknowledged)

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        pending = self.events.pending
        self.seen.append((len(pending), sum(f.done() for f in pending)))
        return await super().send(key, value)


async def test_a_groups_copies_go_out_with_its_events_not_after_their_acknowledgement(
    tmp_path: Path,
) -> None:
    """A group that decides a command and sends a submit again: the copy is sent once the
    events are, before their acknowledgement is awaited (one round trip, not two), and
    acknowledged before the group's records are (the tables written, the records then)."""
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    commands = WatchingCommands(events)
    rt.commands = commands
    dispatch, sink = agent(rt)
    w, submit, _ = _backlog()
    helper = w.command(UpsertHelper(profile=w.helper("h9")), "upsert-1")
    records = [FakeEvent(i, c.model_dump_json().encode()) for i, c in enumerate([helper, submit])]
    assert await dispatch.handle_group(records)
    assert commands.seen == [(1, 0)]  # the helper's events sent, not yet acknowledged
    assert not sink.letters and events.pending[0].done()
    assert [c.command_id for c in commands.taken()] == ["intake-1"]
    assert rt.stats.reissued == 1 and "h9" in rt.state.core.helpers


async def test_a_group_not_emitted_sends_its_copy_again_one_at_a_time(tmp_path: Path) -> None:
    """The group's events refused (one record too large): its copy went out with them, and
    the commands, taken one at a time, send it again: two copies of one submit, which
    changes nothing (`test_a_second_copy_of_a_submit_changes_nothing`); the refused command
    is dead-lettered alone."""
    events = FakeEvents(fail_with='"helper_id":"h9"')
    rt = runtime(tmp_path, events)
    dispatch, sink = agent(rt)
    w, submit, _ = _backlog()
    helper = w.command(UpsertHelper(profile=w.helper("h9")), "upsert-1")
    records = [FakeEvent(i, c.model_dump_json().encode()) for i, c in enumerate([helper, submit])]
    assert await dispatch.handle_group(records)
    assert [offset for offset, _, _ in sink.letters] == [0]
    assert [c.command_id for c in rt.commands.taken()] == ["intake-1", "intake-1"]


class HeldCommands(CommandsTopic):
    """The commands topic whose acknowledgements come only when the test gives them: each
    send's future is kept pending in `acks`."""

    def __init__(self) -> None:
        super().__init__()
        self.acks: list[asyncio.Future[None]] = []

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.values.append(value)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


@pytest.mark.parametrize("answer", ["acknowledged", "timeout"])
async def test_a_groups_originals_wait_for_their_copies_acknowledgement(
    tmp_path: Path, answer: str
) -> None:
    """A group of an upsert and a late submit, the submit's copy sent and its
    acknowledgement not yet back: the group writes no table and does not return (so the
    agent acknowledges none of its records) however long the loop runs. Acknowledged: the
    tables, then the group to be acknowledged. The broker's timeout: exit 75, no dead
    letter, no table written (the group read again after the restart)."""
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    commands = HeldCommands()
    rt.commands = commands
    dispatch, sink = agent(rt)
    w, submit, _ = _backlog()
    helper = w.command(UpsertHelper(profile=w.helper("h9")), "upsert-1")
    records = [FakeEvent(i, c.model_dump_json().encode()) for i, c in enumerate([helper, submit])]
    group = asyncio.create_task(dispatch.handle_group(records))
    for _ in range(200):  # every step the group could take without the copy's answer
        await asyncio.sleep(0)
    [ack] = commands.acks
    assert events.pending and all(f.done() for f in events.pending)  # the events are out
    assert not group.done(), "returned before its copy was acknowledged"
    assert not rt.helpers_table and not rt.requests_table  # no table written yet
    assert rt.stats.reissued == 0 and not sink.letters
    if answer == "acknowledged":
        ack.set_result(None)
        assert await group  # to be acknowledged, after its tables
        assert helper_keys(rt.helpers_table) == {b"h9"}
        assert rt.stats.reissued == 1 and not sink.letters
    else:
        ack.set_exception(KafkaTimeoutError())
        with pytest.raises(Exited) as exited:
            await group
        assert exited.value.code == 75
        assert not sink.letters and not rt.helpers_table and not rt.requests_table
    assert [c.command_id for c in commands.taken()] == ["intake-1"]
