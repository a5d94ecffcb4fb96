"""Session 41: the personal page's "you are helping a neighbour" note reads the holds from
the read model (`dispatcher/record/read/assignments.py` `presence_held`), since the worker
keeps them in its own state (`HelperState.presence`), which the API does not read. On the
real PostgreSQL, the core's events recorded by the real projection: the read model's holds
are the core's, helper by helper, until and rank, at each step of each request's life
(accepted, later, done, withdrawn, referred by staff to 120 or to property, ended)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import asyncpg

from dispatcher.core.presence import RANK_CRITICAL
from dispatcher.record.projection import record_events
from dispatcher.record.read.assignments import presence_held
from schemas.commands import CompleteAssignment, ReferRequest, WithdrawHelper
from schemas.vocab import Category, ReferralTarget, Skill, Urgency
from tests.support import stack_db
from tests.unit.conftest import COMMUNITY, World

conn = stack_db.conn  # a connection to the module's namespace

Holds = list[tuple[datetime, bool]]  # (until, critical), first accepted first
_WORLDS = itertools.count(1)


class Fresh(World):
    """A World whose command ids (hence event ids) no other test's shares: the projection
    records an event id once, and every World counts its commands from 0."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1000 * next(_WORLDS))


def core_holds(w: World, helper_id: str) -> Holds:
    helper = w.state.helpers[helper_id]
    live = sorted((h.until, h.rank) for h in helper.presence if h.until > w.now)
    return [(until, rank == RANK_CRITICAL) for until, rank in live]


async def read_holds(db: asyncpg.Connection, w: World, helper_id: str) -> Holds:
    await record_events(db, w.events)
    held = await presence_held(db, COMMUNITY, helper_id, w.now)
    return sorted((h.until, h.critical) for h in held)


async def agree(db: asyncpg.Connection, w: World, helper_id: str) -> Holds:
    core = core_holds(w, helper_id)
    assert await read_holds(db, w, helper_id) == core
    return core


def _taken(w: World, rid: str, helper_id: str, **spec: object) -> None:
    d = w.submit(rid, **spec)
    assert helper_id in w.offered(d), rid
    w.accept(helper_id, rid)


def _errand_taken(w: World, rid: str, helper_id: str, urgency: Urgency) -> None:
    w.helper(helper_id, skills=[Skill.ERRANDS])
    _taken(w, rid, helper_id, category=Category.ERRAND, urgency=urgency, skills=(Skill.ERRANDS,))


async def test_a_critical_hold_lasts_to_the_requests_end_then_goes(
    conn: asyncpg.Connection,
) -> None:
    w = Fresh()
    w.helper("pd-a", skills=[Skill.DRIVING])
    _taken(w, "pd-crit", "pd-a")  # critical, to hospital: 2 h lifetime, in person
    [(until, critical)] = await agree(conn, w, "pd-a")
    assert critical and until == w.request("pd-crit").ends_at  # sooner than 3 h after
    w.later(3600)
    assert len(await agree(conn, w, "pd-a")) == 1
    while w.request("pd-crit").next_deadline is not None:
        w.tick("pd-crit")
    assert await agree(conn, w, "pd-a") == []


async def test_an_urgent_hold_ranks_below_critical_and_ends_when_done(
    conn: asyncpg.Connection,
) -> None:
    w = Fresh()
    _errand_taken(w, "pd-urgent", "pd-b", Urgency.URGENT)
    [(until, critical)] = await agree(conn, w, "pd-b")
    assert not critical and until == w.now + timedelta(hours=3)  # the cap: 6 h lifetime
    w.run(CompleteAssignment(request_id="pd-urgent", helper_id="pd-b", minutes=20))
    assert await agree(conn, w, "pd-b") == []


async def test_the_cap_ends_a_hold_on_a_request_still_open(conn: asyncpg.Connection) -> None:
    w = Fresh()
    _errand_taken(w, "pd-normal", "pd-c", Urgency.NORMAL)
    assert len(await agree(conn, w, "pd-c")) == 1
    w.later(3 * 3600 + 1)  # past HOLD_CAP, the request (24 h) still open
    assert await agree(conn, w, "pd-c") == []


async def test_a_withdrawal_and_a_referral_to_property_end_it(conn: asyncpg.Connection) -> None:
    w = Fresh()
    w.helper("pd-d", skills=[Skill.DRIVING])
    w.helper("pd-e", skills=[Skill.DRIVING])
    _taken(w, "pd-w", "pd-d")
    w.run(WithdrawHelper(request_id="pd-w", helper_id="pd-d"))
    assert await agree(conn, w, "pd-d") == []
    _taken(w, "pd-p", "pd-e")
    w.run(ReferRequest(request_id="pd-p", to=ReferralTarget.PROPERTY))
    assert await agree(conn, w, "pd-e") == []


async def test_a_referral_to_120_keeps_the_hold_to_the_requests_end(
    conn: asyncpg.Connection,
) -> None:
    w = Fresh()
    w.helper("pd-f", skills=[Skill.DRIVING])
    _taken(w, "pd-120", "pd-f")
    w.later(600)
    w.run(ReferRequest(request_id="pd-120", to=ReferralTarget.AMBULANCE))
    [(until, critical)] = await agree(conn, w, "pd-f")
    assert critical and until == w.request("pd-120").ends_at
    w.now = w.request("pd-120").ends_at  # no timer closes a referred request: lapses by time
    assert await agree(conn, w, "pd-f") == []


async def test_a_need_by_phone_holds_nobody(conn: asyncpg.Connection) -> None:
    w = Fresh()
    w.helper("pd-g", skills=[Skill.DOCTOR])
    _taken(w, "pd-phone", "pd-g", category=Category.MEDICAL, skills=(Skill.DOCTOR,))
    assert w.request("pd-phone").assignments  # accepted, to guide by phone
    assert await agree(conn, w, "pd-g") == []
