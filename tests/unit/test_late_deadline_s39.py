"""A deadline a worker sends late is decided when it is sent (session 39, audit_time).

Before: the timer stamped each deadline command with its due time and the dispatch agent
decided at `min(issued_at, wall)`, so a worker behind by a backlog or back from an outage
decided every rung it had missed at its own past time, one after another at once: each
rung's offers expired before they were pushed (a link dead on arrival, the helper charged
no_answer) and the ladder burst to its last rung (a critical request: the emergency
referral), nobody asked again. Now the timer's command is issued at the later of its due
time and the timer's clock (`deadline_command(sent_at=…)`, the same command id: a re-send
still deduplicates; durable in Kafka: a replay decides it at the same time), so the ladder
goes on from the moment the worker is back, one rung at a time.

The worker's way is run here with its real parts: the decisions' deadlines go on the real
heap (`DeadlineHeap`), the real timer (`DeadlineTimer.fire`) sends what is due at a wall
time, and each command it sent is decided at the dispatch agent's time for it
(`DispatchAgent._now`)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from dispatcher.core import Decision
from dispatcher.core.deadlines import DeadlineHeap
from schemas.commands import Command, CommandBody, deadline_command
from schemas.records import OfferStatus
from schemas.vocab import Skill, Urgency
from streams.deadline_timer import DeadlineTimer
from streams.dispatch_agent import DispatchAgent
from tests.support.worker_clock import CommandsTopic, runtime_at
from tests.unit.conftest import World


class Worker(World):
    """Decisions' deadlines on the real heap; the real timer and the agent's clock."""

    def __init__(self) -> None:
        super().__init__()
        self.heap = DeadlineHeap()
        self.lateness: list[float] = []

    def run(self, body: CommandBody | Command, command_id: str | None = None) -> Decision:
        decision = super().run(body, command_id)
        self.heap.note(decision.requests.values())
        return decision

    def _runtime(self, wall: datetime, commands: CommandsTopic | None = None) -> Any:
        return runtime_at(wall, self.heap, self.state.requests, commands, self.lateness.append)

    def timer(self, wall: datetime) -> list[Command]:
        """One tick of the timer at `wall`, and each command it sent decided by the agent."""
        commands = CommandsTopic()
        asyncio.run(DeadlineTimer(self._runtime(wall, commands)).fire())
        sent = [Command.model_validate_json(v) for v in commands.values]
        agent: Any = SimpleNamespace(rt=self._runtime(wall))
        for command in sent:
            self.now = DispatchAgent._now(agent, command)
            self.run(command)
        return sent

    def catch_up(self, wall: datetime) -> None:
        """Tick at `wall` until nothing more is due (a timer that is back sends what is
        overdue, then what that decided, all at once)."""
        for _ in range(20):
            if not self.timer(wall):
                return
        raise AssertionError("the timer never settled")


def _critical_in_a_backlog() -> tuple[Worker, datetime]:
    w = Worker()
    for i, building in enumerate(["3", "3", "9", "9"]):
        w.helper(f"h{i}", building=building, skills=[Skill.DRIVING])
    w.helper("far", building="1", compound="other", grid="g9", skills=[Skill.DRIVING])
    w.submit(urgency=Urgency.CRITICAL, skills=[Skill.DRIVING])  # decided at its intake time
    return w, w.now + timedelta(minutes=15)  # the worker's timer is back 15 minutes later


def test_a_worker_back_after_15_minutes_climbs_one_rung_not_every_missed_one() -> None:
    w, wall = _critical_in_a_backlog()
    r = w.request()
    first_rung = r.plan.steps[r.step]
    assert r.next_deadline is not None and r.next_deadline < wall  # overdue
    w.catch_up(wall)
    r = w.request()
    assert r.step == 1, f"climbed {r.step} rungs at once"  # before: the emergency referral
    assert not r.terminal and not r.whistle_blown
    assert r.step_started_at == wall  # the rung runs from now
    assert r.next_deadline == wall + timedelta(seconds=r.plan.steps[1].wait_s)
    assert first_rung.wait_s < r.plan.offer_ttl_s  # (why the old burst mattered)
    # Its offers are pushed now, with their whole time to answer: none dead on arrival.
    later = [o for o in r.offers if o.step >= 1]
    ttl = timedelta(seconds=r.plan.offer_ttl_s)
    assert later and all(o.expires_at == wall + ttl for o in later)
    assert all(o.status is OfferStatus.OPEN for o in later)


def test_the_ladder_then_goes_on_at_its_own_pace_from_there() -> None:
    w, wall = _critical_in_a_backlog()
    w.catch_up(wall)
    climbed: dict[int, datetime] = {}  # rung → when it started
    for _ in range(20):
        r = w.request()
        climbed.setdefault(r.step, r.step_started_at)
        if r.terminal or r.next_deadline is None:
            break
        wall = r.next_deadline  # the timer on time from here
        w.catch_up(wall)
    r = w.request()
    steps = sorted(climbed)
    assert steps == list(range(1, len(r.plan.steps) + 1)), climbed  # none skipped
    for step in steps[:-1]:  # each rung its whole wait, counted from the worker's return
        assert climbed[step + 1] - climbed[step] == timedelta(seconds=r.plan.steps[step].wait_s)


def test_every_send_of_a_deadline_is_one_command_issued_no_earlier_than_due() -> None:
    due = datetime.fromisoformat("2024-03-05T12:00:20+00:00")
    on_time = deadline_command(request_id="r", community_id="c", step=1, due_at=due, sent_at=due)
    late = deadline_command(
        request_id="r", community_id="c", step=1, due_at=due, sent_at=due + timedelta(minutes=15)
    )
    early = deadline_command(
        request_id="r", community_id="c", step=1, due_at=due, sent_at=due - timedelta(seconds=1)
    )
    assert on_time.command_id == late.command_id == early.command_id  # re-sends deduplicate
    assert (on_time.issued_at, late.issued_at, early.issued_at) == (
        due,
        due + timedelta(minutes=15),
        due,  # a timer whose clock is behind never issues it before its due time
    )


def test_lateness_is_measured_from_the_due_time_not_the_send() -> None:
    w, wall = _critical_in_a_backlog()
    r = w.request()
    assert r.next_deadline is not None
    due = r.next_deadline
    w.timer(wall)
    assert w.lateness == [(wall - due).total_seconds()]  # the 15 minutes, not 0
