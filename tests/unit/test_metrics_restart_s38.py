"""The worker's metrics from its first event on (session 38's audit).

* deploy/prometheus/alerts.yml pages on `increase()` of `dispatch_requests_closed_total`
  (critical expiries) and `dispatch_records_lost_to_retention_total`. prometheus_client makes
  a labelled child at its first increment, so the series appeared already at 1 and increase()
  over its one sample is 0: the first event after a start paged nobody. They exist at 0 from
  the start now (the promtool side: tests/integration/test_alerts_first_event_s38.py).
* A process started after a request opened (restart, rebalance) never saw the opening: its
  close was labelled urgency="unknown" (no critical-expiry page) and its first accept was not
  counted. The record agent seeds those requests from PostgreSQL (fakes here; the real stack:
  tests/integration/test_metrics_after_restart_s38.py).
* A batch PostgreSQL refused, recorded one event at a time, was never observed.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from dispatcher.ops import metrics as ops_metrics
from dispatcher.ops.event_metrics import EventMetrics, RequestSeed
from dispatcher.ops.metric_defs import CLOSE_OUTCOMES, DispatchMetrics
from dispatcher.settings import Settings
from schemas.event_batch import encode_batch_records
from schemas.events import Event
from schemas.vocab import Skill
from streams.app import create_faust_app
from tests.unit.conftest import World
from tests.unit.test_recorders_wait_out_postgresql import Database, recorder

CLOSED = "dispatch_requests_closed_total"
ANSWERED = "dispatch_requests_answered_total"
TTFA = "dispatch_time_to_first_accept_seconds_count"
TTFO = "dispatch_time_to_first_offer_seconds_count"


def fresh() -> tuple[EventMetrics, CollectorRegistry]:
    registry = CollectorRegistry()  # a new process: a new registry, an empty memory
    return EventMetrics(DispatchMetrics.create(registry)), registry


def value(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


def total(reg: CollectorRegistry, name: str) -> float:
    return sum(s.value for m in reg.collect() for s in m.samples if s.name == name)


# ---------------------------------------------------------------- series at 0 from the start


def test_a_fresh_registry_exports_every_close_at_zero() -> None:
    _, reg = fresh()
    for outcome in CLOSE_OUTCOMES:
        for urgency in ("critical", "urgent", "normal", "low", "unknown"):
            assert value(reg, CLOSED, outcome=outcome, urgency=urgency) == 0.0, (outcome, urgency)


def test_the_worker_consumer_exports_its_topics_losses_at_zero(tmp_path: Path) -> None:
    commands, events = "s38-zero.commands", "s38-zero.events"
    settings = Settings(data_dir=tmp_path, commands_topic=commands, events_topic=events)
    app = create_faust_app(settings, "s38-zero")
    assert app.consumer is not None  # built as the worker starts
    for topic in (commands, events):
        lost = ops_metrics.REGISTRY.get_sample_value(
            "dispatch_records_lost_to_retention_total", {"topic": topic}
        )
        assert lost == 0.0, topic


# ---------------------------------------------------------------- a request opened before


def expired_critical() -> tuple[World, int]:
    """A critical request nobody answers until it expires; the index of its first event
    after the opening decision."""
    world = World()
    world.helper("d1", skills=[Skill.DRIVING])
    world.submit()
    opened = len(world.events)
    for _ in range(40):
        if world.request().terminal:
            break
        world.tick()
    assert world.of_type("request_expired")
    return world, opened


def seed_of(world: World, *, offered: bool, answered: bool) -> RequestSeed:
    spec = world.request().spec
    first = world.events[0]
    return RequestSeed(
        "req-1", str(spec.category), str(spec.urgency), first.occurred_at, offered, answered
    )


def test_an_expiry_after_a_restart_is_critical_once_seeded() -> None:
    world, opened = expired_critical()
    after, reg = fresh()
    later = world.events[opened:]
    assert after.unknown_requests(later) == {"req-1"}
    after.seed([seed_of(world, offered=True, answered=False)], {"req-1"})
    assert after.unknown_requests(later) == set()
    after.observe_all(later)
    assert value(reg, CLOSED, outcome="expired", urgency="critical") == 1
    assert value(reg, CLOSED, outcome="expired", urgency="unknown") == 0
    assert after.unknown_requests(later) == set()  # closed: not asked for again


def test_a_first_accept_after_a_restart_is_counted_once() -> None:
    world = World()
    world.helper("d1", skills=[Skill.DRIVING])
    world.submit()
    opened = len(world.events)
    world.later(30)
    world.accept("d1")
    after, reg = fresh()
    after.seed([seed_of(world, offered=True, answered=False)], {"req-1"})
    after.observe_all(world.events[opened:])
    assert total(reg, ANSWERED) == 1
    assert value(reg, TTFA, urgency="critical") == 1
    assert total(reg, TTFO) == 0  # offered before: not a first offer here
    # Recorded as answered before (a replay): not counted again.
    again, reg2 = fresh()
    again.seed([seed_of(world, offered=True, answered=True)], {"req-1"})
    again.observe_all(world.events[opened:])
    assert total(reg2, ANSWERED) == 0


def test_a_request_opened_in_the_batch_or_remembered_needs_no_lookup() -> None:
    world, _ = expired_critical()
    em, _ = fresh()
    assert em.unknown_requests(world.events) == set()  # its opening is among them
    em.observe_all(world.events[:3])
    assert em.unknown_requests(world.events[3:]) == set()
    # Looked up and not recorded: not asked for again either.
    other, _ = fresh()
    other.seed([], {"req-1"})
    assert other.unknown_requests(world.events[3:]) == set()


# ---------------------------------------------------------------- the record agent


class SeedingDatabase(Database):
    """The fake PostgreSQL, with the `requests` rows the seed query reads."""

    def __init__(self, rows: list[dict[str, Any]], **kw: Any) -> None:
        super().__init__(**kw)
        self.rows = rows
        self.asked: list[list[str]] = []

    async def fetch(self, query: str, ids: list[str]) -> list[dict[str, Any]]:
        assert "FROM requests" in query
        self.asked.append(sorted(ids))
        return [r for r in self.rows if r["request_id"] in ids]


def records_of(events: list[Event]) -> list[Any]:
    return [
        SimpleNamespace(topic="events", partition=0, offset=i, key=key, value=value)
        for i, (key, value, _) in enumerate(encode_batch_records(events))
    ]


@pytest.fixture
def process(monkeypatch: pytest.MonkeyPatch) -> CollectorRegistry:
    """The worker's event metrics as a freshly started process has them."""
    em, reg = fresh()
    monkeypatch.setattr(ops_metrics, "EVENTS", em)
    return reg


async def test_the_record_agent_seeds_a_request_opened_before_it_started(
    monkeypatch: pytest.MonkeyPatch, process: CollectorRegistry
) -> None:
    world, opened = expired_critical()
    first = world.events[0]
    row = {
        "request_id": "req-1",
        "category": "hospital_transport",
        "urgency": "critical",
        "opened_at": first.occurred_at,
        "offered": True,
        "answered": False,
        "held": False,
        "released_at": None,
        "first_offer_at": world.events[1].occurred_at,
    }
    db = SeedingDatabase([row])
    agent, _ = recorder(monkeypatch, db)
    later = world.events[opened:]
    await agent.record_batch(records_of(later))
    assert db.asked == [["req-1"]]  # one query, before the batch's write
    assert value(process, CLOSED, outcome="expired", urgency="critical") == 1
    # The steady state: nothing to ask (the request is closed and remembered so).
    await agent.record_batch(records_of(later))
    assert db.asked == [["req-1"]]


async def test_a_request_the_process_saw_opened_is_not_looked_up(
    monkeypatch: pytest.MonkeyPatch, process: CollectorRegistry
) -> None:
    world = World()
    world.helper("d1", skills=[Skill.DRIVING])
    world.submit()
    opened = len(world.events)
    world.later(30)
    world.accept("d1")
    db = SeedingDatabase([])
    agent, _ = recorder(monkeypatch, db)
    await agent.record_batch(records_of(world.events[:opened]))
    await agent.record_batch(records_of(world.events[opened:]))
    assert db.asked == []
    assert value(process, TTFA, urgency="critical") == 1


async def test_a_batch_recorded_one_event_at_a_time_is_observed(
    monkeypatch: pytest.MonkeyPatch, process: CollectorRegistry
) -> None:
    world = World()
    world.helper("d1", skills=[Skill.DRIVING])
    events = list(world.submit().events)
    db = Database(refuse=events[-1].event_id)  # the batch refused for one event's data
    agent, _ = recorder(monkeypatch, db)
    await agent.record_batch(records_of(events))
    assert db.writes[0] == len(events) and db.writes[1:] == [1] * len(events)  # one by one
    opened = value(
        process, "dispatch_requests_opened_total", category="hospital_transport", urgency="critical"
    )
    assert opened == 1
    assert (
        value(process, "dispatch_offers_sent_total", ring="building", urgency="critical") or 0
    ) >= 1


async def test_a_failed_lookup_records_the_batch_as_before(
    monkeypatch: pytest.MonkeyPatch, process: CollectorRegistry
) -> None:
    """The lookup is for metrics only: a query PostgreSQL refuses does not send the batch
    down the one-by-one path, and its requests are asked for again with the next events."""
    world, opened = expired_critical()

    class Refusing(SeedingDatabase):
        async def fetch(self, query: str, ids: list[str]) -> list[dict[str, Any]]:
            self.asked.append(sorted(ids))
            raise asyncpg.UndefinedColumnError("column does not exist")

    db = Refusing([])
    agent, waits = recorder(monkeypatch, db)
    later = world.events[opened:]
    await agent.record_batch(records_of(later[:-1]))
    assert db.writes == [len(later) - 1] and waits == []  # one bulk write, no retry
    await agent.record_batch(records_of(later[-1:]))
    assert db.asked == [["req-1"], ["req-1"]]
    assert value(process, CLOSED, outcome="expired", urgency="unknown") == 1
